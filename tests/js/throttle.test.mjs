// Unit tests of frontend/js/throttle.js with a hand-driven clock (run: node --test tests/js/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { throttle } from "../../frontend/js/throttle.js";

function fakeClock() {
  let t = 0;
  let timers = [];
  return {
    now: () => t,
    setTimer: (fn, ms) => { const id = { fn, at: t + ms }; timers.push(id); return id; },
    clearTimer: (id) => { timers = timers.filter((x) => x !== id); },
    advance(ms) {
      t += ms;
      for (const x of timers.filter((x) => x.at <= t)) { timers = timers.filter((y) => y !== x); x.fn(); }
    },
    get pending() { return timers.length; },
  };
}

test("the first call runs at once, later ones at most once per interval, with the newest arguments", () => {
  const clock = fakeClock();
  const calls = [];
  const f = throttle((v) => calls.push([clock.now(), v]), 100, clock);
  f("a");
  f("b");
  f("c");
  assert.deepEqual(calls, [[0, "a"]]);
  clock.advance(99);
  assert.equal(calls.length, 1);
  clock.advance(1);
  assert.deepEqual(calls, [[0, "a"], [100, "c"]]); // "b" was stale and is never sent
  clock.advance(500);
  assert.equal(calls.length, 2); // no call without new arguments
});

test("a call after a quiet interval runs immediately", () => {
  const clock = fakeClock();
  const calls = [];
  const f = throttle((v) => calls.push(v), 100, clock);
  f(1);
  clock.advance(250);
  f(2);
  assert.deepEqual(calls, [1, 2]);
  assert.equal(clock.pending, 0);
});

test("a steady stream of calls is spaced by the interval", () => {
  const clock = fakeClock();
  const times = [];
  const f = throttle(() => times.push(clock.now()), 80, clock);
  for (let i = 0; i < 50; i++) { f(i); clock.advance(10); }
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 80, `gap ${times[i] - times[i - 1]}`);
  assert.ok(times.length >= 6 && times.length <= 7, `ran ${times.length} times in 500 ms`);
});

test("flush runs the pending call now and cancel drops it", () => {
  const clock = fakeClock();
  const calls = [];
  const f = throttle((v) => calls.push(v), 100, clock);
  f(1); f(2);
  assert.ok(f.pending());
  f.flush();
  assert.deepEqual(calls, [1, 2]);
  assert.ok(!f.pending());
  f(3);
  f.cancel();
  clock.advance(1000);
  assert.deepEqual(calls, [1, 2]);
});
