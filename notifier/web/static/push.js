// Notifications on this device: the one part of the citizen's pages that needs JavaScript,
// because subscribing is the browser's own API (service worker + PushManager.subscribe).
"use strict";
(function () {
  const box = document.getElementById("push");
  if (!box) return;
  const on = document.getElementById("push-on");
  const off = document.getElementById("push-off");
  const status = document.getElementById("push-status");
  const say = (key) => { status.textContent = box.dataset[key]; };
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) { say("unsupported"); return; }

  const base = "/me/" + box.dataset.token + "/push";
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": box.dataset.csrf };
  const key = Uint8Array.from(atob(box.dataset.key.replace(/-/g, "+").replace(/_/g, "/")
    + "=".repeat((4 - box.dataset.key.length % 4) % 4)), (c) => c.charCodeAt(0));

  async function registration() {
    await navigator.serviceWorker.register("/me/sw.js", { scope: "/me/" });
    return navigator.serviceWorker.ready;
  }
  function show(subscribed) { on.hidden = subscribed; off.hidden = !subscribed; }

  on.addEventListener("click", async () => {
    try {
      if ((await Notification.requestPermission()) !== "granted") { say("denied"); return; }
      const reg = await registration();
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
      const answer = await fetch(base + "?lang=" + box.dataset.lang,
        { method: "POST", headers, body: JSON.stringify(sub.toJSON()) });
      if (!answer.ok) throw new Error(String(answer.status));
      show(true); say("subscribed"); off.focus();
    } catch (error) { say("failed"); }
  });
  off.addEventListener("click", async () => {
    try {
      const reg = await registration();
      const sub = await reg.pushManager.getSubscription();
      if (sub) {
        await fetch(base + "/remove?lang=" + box.dataset.lang,
          { method: "POST", headers, body: JSON.stringify(sub.toJSON()) });
        await sub.unsubscribe();
      }
      show(false); say("unsubscribed"); on.focus();
    } catch (error) { say("failed"); }
  });
  registration().then((reg) => reg.pushManager.getSubscription()).then((sub) => show(Boolean(sub)),
    () => show(false));
})();
