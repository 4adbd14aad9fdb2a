// API failures as sentences for the operator.

import { ApiError } from "./api.js";
import { t } from "./i18n.js";

export function errorText(error) {
  if (error instanceof ApiError) {
    if (error.status === 403) return t("error.forbidden");
    if (error.status === 404) return t("error.notfound");
    if (error.status === 429) return t("error.ratelimited");
  }
  return t("error.generic", { detail: error?.detail || error?.message || "" });
}
