// The critical-alert sound. Browsers refuse to play audio before a person interacts with the page,
// so sound starts off and the "sound on" button both enables it and unlocks playback with a
// silent first play inside the click.

import { t } from "./i18n.js";

let audio = null;
let enabled = false;
let played = 0;
const listeners = new Set();

export function soundEnabled() {
  return enabled;
}

export function onSoundChange(fn) {
  listeners.add(fn);
  fn(enabled);
  return () => listeners.delete(fn);
}

/** Called from a click: toggles, and on enabling plays once muted to unlock audio. */
export async function toggleSound() {
  if (enabled) {
    enabled = false;
  } else {
    audio = audio || new Audio("sounds/alarm.wav");
    audio.muted = true;
    try {
      await audio.play();
      audio.pause();
      audio.currentTime = 0;
      enabled = true;
    } catch {
      enabled = false;
    }
    audio.muted = false;
  }
  listeners.forEach((fn) => fn(enabled));
  return enabled;
}

/** The wall display has no button: turn sound on if this browser lets a page play without a
 *  click (a kiosk browser started with --autoplay-policy=no-user-gesture-required does). The
 *  test play is unmuted at volume 0, because a muted play is always allowed and proves nothing. */
export async function soundWithoutClick() {
  if (enabled) return true;
  audio = audio || new Audio("sounds/alarm.wav");
  audio.volume = 0;
  try {
    await audio.play();
    audio.pause();
    audio.currentTime = 0;
    enabled = true;
  } catch {
    enabled = false;
  }
  audio.volume = 1;
  listeners.forEach((fn) => fn(enabled));
  return enabled;
}

/** Play the alarm if a person has turned sound on; never throws. The count of alarms played
 *  is kept on <body data-alarms> for whoever checks the wall display works. */
export function alarm() {
  if (!enabled || !audio) return;
  audio.currentTime = 0;
  audio.play().then(() => {
    played += 1;
    document.body.dataset.alarms = String(played);
  }).catch(() => {});
}

export function soundLabel() {
  return enabled ? t("sound.on") : t("sound.off");
}
