// Texts the server writes in English, said again in the operator's language. The server's
// wording is matched by rules: [pattern, render], the first pattern that matches renders the
// text from its groups through the i18n table; a text no rule knows is shown as written, so a
// device's own error message (or wording the server added later) stays readable. A render may
// return null to pass the text on to the next rule (a "code: detail" rule whose code it does
// not know). Pure functions over strings: callers put the result in text nodes, never markup.

/** The rendering of the first rule that matches ``text`` and accepts it; null when none does. */
export function matchRule(rules, text) {
  for (const [pattern, render] of rules) {
    const match = pattern.exec(text);
    const out = match ? render(match) : null;
    if (out !== null && out !== undefined) return out;
  }
  return null;
}

/** ``text`` in the operator's language when a rule knows it, else as the server wrote it. */
export function translated(rules, text) {
  const raw = String(text ?? "");
  return matchRule(rules, raw) ?? raw;
}
