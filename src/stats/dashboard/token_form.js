// @ts-check
/**
 * The token form: asked for when a request is refused (401), it shows
 * "Locked" in the header while open and gives back the token typed.
 *
 * @module
 */
import { $, dialog, input } from "./dom.js";
import { setConn } from "./monitor.js";

/**
 * Shows the form and waits for a token.
 *
 * @param {boolean} refused whether the last token was refused
 * @returns {Promise<string>} the token typed
 */
export function askToken(refused) {
  return new Promise((resolve) => {
    const dlg = dialog("auth"),
      field = input("authToken"),
      err = $("authErr"),
      form = $("authForm");
    err.textContent = refused ? "That token was not accepted. Try again." : "";
    err.hidden = !refused;
    field.value = "";
    const conn = $("conn"), before = [conn.className.replace("pill ", ""), conn.textContent ?? ""];
    setConn("down", "Locked");
    /** @param {Event} ev */
    const onSubmit = (ev) => {
      ev.preventDefault();
      const value = field.value.trim();
      if (!value) return;
      form.removeEventListener("submit", onSubmit);
      dlg.close();
      if (conn.textContent === "Locked") setConn(before[0] ?? "wait", before[1] ?? "");
      resolve(value);
    };
    form.addEventListener("submit", onSubmit);
    if (!dlg.open) dlg.showModal();
    field.focus();
  });
}

// The form cannot be dismissed: every request waits for it.
$("auth").addEventListener("cancel", (ev) => ev.preventDefault());
