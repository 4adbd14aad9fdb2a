// Periodic refresh that rests while the page is hidden: a console left open in a background tab
// costs the controller nothing, and it catches up as soon as it is looked at again.

/** Run ``fn`` (async) now and every ``ms`` after it finishes, skipping hidden periods and running
 *  at once when the page is shown again. Returns {stop(), now()}: now() refreshes at once (after a
 *  setting changed) and goes on from there. */
export function every(ms, fn) {
  let timer = null;
  let stopped = false;
  let running = false;
  let again = false; // now() was asked for while a run was under way

  async function tick() {
    window.clearTimeout(timer);
    timer = null;
    if (running) {
      again = true;
      return;
    }
    if (stopped) return;
    if (document.visibilityState !== "visible") return; // onVisible starts us again
    running = true;
    again = false;
    try {
      await fn();
    } finally {
      running = false;
    }
    if (!stopped) timer = window.setTimeout(tick, again ? 0 : ms);
  }

  function onVisible() {
    if (document.visibilityState === "visible" && timer === null) tick();
  }

  document.addEventListener("visibilitychange", onVisible);
  tick();
  return {
    now: tick,
    stop() {
      stopped = true;
      window.clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}
