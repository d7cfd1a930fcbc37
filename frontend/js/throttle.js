// Throttling for stroke previews: the first call runs at once, then at most one call per `wait` ms,
// and the newest arguments always get a trailing call, so the last preview of a drag is never lost.
//   const send = throttle((stroke) => socket.send(...), 80);
//   send(s1); send(s2); send(s3);   // s1 now, s3 after 80 ms; s2 is dropped as stale
//   send.flush();                   // run a pending trailing call now (e.g. before the final stroke)
//   send.cancel();                  // drop it
// Timer functions are injectable so the node tests can drive time by hand.

export function throttle(fn, wait, { now = () => Date.now(), setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  let last = -Infinity; // when fn last ran
  let timer = null;
  let pendingArgs = null;

  const run = () => {
    timer = null;
    const args = pendingArgs;
    pendingArgs = null;
    last = now();
    fn(...args);
  };

  function throttled(...args) {
    pendingArgs = args;
    const remaining = wait - (now() - last);
    if (remaining <= 0) {
      if (timer !== null) { clearTimer(timer); timer = null; }
      run();
    } else if (timer === null) {
      timer = setTimer(run, remaining);
    }
  }
  throttled.flush = () => {
    if (timer !== null) { clearTimer(timer); run(); }
  };
  throttled.cancel = () => {
    if (timer !== null) clearTimer(timer);
    timer = null;
    pendingArgs = null;
  };
  throttled.pending = () => timer !== null;
  return throttled;
}
