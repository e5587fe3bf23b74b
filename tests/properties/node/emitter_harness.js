// Differential-test harness: runs emitter "programs" on Node's own events.EventEmitter.
//
// Reads one JSON program per line on stdin and writes one JSON result per line on stdout.
// tests/test_emitter_differential.py runs the same programs on eda_kit's EventEmitter; the test
// compares the two results. A program is
//   {"listeners": {"L0": [action, ...], ...}, "ops": [op, ...]}
// and every op or action is one of
//   ["on"|"once"|"prepend"|"prepend_once"|"off", event, listenerId], ["remove_all", event|null],
//   ["emit", event, arg], ["max", n], ["throw"]          (arg: a number, or "E" for an Error)
// Event names use the Python spelling; "new_listener"/"remove_listener" map to Node's names.
// A listener, when called, logs its id and arguments, then (unless nested 3 deep) runs its
// actions. After each op the result records the log, the op's outcome and the emitter's state.
'use strict';
const EventEmitter = require('events');
const readline = require('readline');

const TO_NODE = { new_listener: 'newListener', remove_listener: 'removeListener' };
const TO_PY = { newListener: 'new_listener', removeListener: 'remove_listener' };
const EVENTS = ['a', 'b', 'error', 'new_listener', 'remove_listener'];

function run(program) {
  const emitter = new EventEmitter();
  const log = [];
  const fns = {};
  const idOf = new Map();
  let depth = 0;
  const original = process.emitWarning;
  process.emitWarning = (w) => log.push(`warn ${TO_PY[w.type] || w.type} ${w.count}`);

  const render = (value) => {
    if (typeof value === 'function') {
      // eda_kit always reports the function you registered; Node sometimes passes its
      // once-wrapper to removeListener listeners. Compare the functions behind them.
      return idOf.get(value.listener || value) || '?';
    }
    if (value instanceof Error) return `Error(${value.message})`;
    if (typeof value === 'string') return TO_PY[value] || value;
    return String(value);
  };

  const perform = (action) => {
    const [kind, event, x] = action;
    const name = TO_NODE[event] || event;
    switch (kind) {
      case 'on': return emitter.on(name, fns[x]) === emitter;
      case 'once': return emitter.once(name, fns[x]) === emitter;
      case 'prepend': return emitter.prependListener(name, fns[x]) === emitter;
      case 'prepend_once': return emitter.prependOnceListener(name, fns[x]) === emitter;
      case 'off': return emitter.off(name, fns[x]) === emitter;
      case 'remove_all':
        return (event === null ? emitter.removeAllListeners() : emitter.removeAllListeners(name)) === emitter;
      case 'emit': return emitter.emit(name, x === 'E' ? new Error('boom') : x);
      case 'max': emitter.setMaxListeners(event); return emitter.getMaxListeners();
      case 'throw': throw new Error('thrown');
      default: throw new Error(`unknown action ${kind}`);
    }
  };

  for (const [id, actions] of Object.entries(program.listeners)) {
    const fn = function (...args) {
      log.push(`${id}(${args.map(render).join(', ')})`);
      depth += 1;
      try {
        if (depth <= 2) for (const action of actions) perform(action);
      } finally {
        depth -= 1;
      }
    };
    fns[id] = fn;
    idOf.set(fn, id);
  }

  const steps = [];
  for (const op of program.ops) {
    log.length = 0;
    let outcome;
    try {
      outcome = perform(op);
    } catch (error) {
      outcome = `raised ${error.message}`;
    }
    const state = {};
    for (const event of EVENTS) {
      const name = TO_NODE[event] || event;
      state[event] = {
        listeners: emitter.listeners(name).map(render),
        once: emitter.rawListeners(name).map((f) => f.listener !== undefined),
        count: emitter.listenerCount(name),
      };
    }
    state.names = emitter.eventNames().map(render);
    steps.push({ log: [...log], outcome, state });
  }
  process.emitWarning = original;
  return steps;
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let reply;
  try {
    reply = { ok: run(JSON.parse(line)) };
  } catch (error) {
    reply = { error: String(error && error.stack || error) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
