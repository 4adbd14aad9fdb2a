// Building the page without HTML parsing: everything from devices (ids, names, attributes) lands as
// text nodes or plain attribute values, so a camera named "<img onerror=...>" stays a name.

const SAFE_ATTRS = new Set([
  "class", "id", "href", "src", "alt", "title", "type", "value", "name", "placeholder",
  "for", "role", "disabled", "checked", "selected", "hidden", "width", "height", "lang",
  "autocomplete", "required", "rows", "maxlength", "tabindex", "aria-label", "aria-live",
  "aria-pressed", "aria-hidden", "loading", "draggable",
]);

/** A new element: ``attrs`` (plain attributes, ``data-*``, and ``on*`` handlers as functions),
 *  then children (strings become text nodes; null/false are skipped). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key.startsWith("data-")) {
      node.setAttribute(key, String(value));
    } else if (SAFE_ATTRS.has(key)) {
      if ((key === "href" || key === "src") && !isSafeUrl(String(value))) continue;
      node.setAttribute(key, value === true ? "" : String(value));
    } else {
      throw new Error(`attribute not allowed: ${key}`);
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Only same-origin paths and fragments: never ``javascript:`` or another host. */
function isSafeUrl(url) {
  return url.startsWith("/") && !url.startsWith("//") || url.startsWith("#") ||
    /^[a-z0-9._-]+(\.html|\.wav)([?#].*)?$/i.test(url);
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function replace(node, ...children) {
  clear(node);
  append(node, children);
  return node;
}

/** A ``#/...`` route with each part encoded, so an id cannot add path segments. */
export function route(...parts) {
  return "#/" + parts.map((p) => encodeURIComponent(String(p))).join("/");
}

/** Make ``parent``'s children exactly ``nodes``, in order, moving only what is out of place:
 *  a node that stays where it is keeps its focus and scroll state. */
export function reconcile(parent, nodes) {
  let cursor = parent.firstChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextSibling;
    } else {
      parent.insertBefore(node, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextSibling;
    parent.removeChild(cursor);
    cursor = next;
  }
}
