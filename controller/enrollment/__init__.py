"""Gateway enrollment: single-use tokens, certificates signed for CSRs made on the device,
renewal by proof of the current key, revocation and the CRL the broker reads."""
