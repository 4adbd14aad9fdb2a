// Who is signed in (from GET /api/v1/me), shared by the views.

let user = null;

export function setUser(value) {
  user = value;
}

export function currentUser() {
  return user;
}

/** Operators and admins may acknowledge, clear, comment and ask cameras for pictures. */
export function canAct() {
  return user !== null && (user.role === "operator" || user.role === "admin");
}
