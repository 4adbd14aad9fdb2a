// A larger view of a snapshot thumbnail, closed by its button, a click outside or Escape.

import { el } from "./dom.js";
import { t } from "./i18n.js";

let open = null;

export function showPicture(src, caption) {
  closePicture();
  const close = el("button", { type: "button", class: "lightbox-close", onclick: closePicture },
    t("alert.snapshot.close"));
  open = el("div", { class: "lightbox", role: "dialog", "aria-label": caption,
    onclick: (e) => { if (e.target === open) closePicture(); } },
    el("figure", {},
      el("img", { src, alt: caption, class: "lightbox-image" }),
      el("figcaption", {}, caption, " ", close)));
  document.body.append(open);
  document.addEventListener("keydown", onKey);
  close.focus();
}

export function closePicture() {
  open?.remove();
  open = null;
  document.removeEventListener("keydown", onKey);
}

function onKey(event) {
  if (event.key === "Escape") closePicture();
}
