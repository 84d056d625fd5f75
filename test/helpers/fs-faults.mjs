// Preloaded into a child broker (NODE_OPTIONS=--import) to inject I/O faults:
// while the file named by WARREN_FAULT_EIO exists, every fs.writev fails with
// EIO, as a failing disk would. syncBuiltinESMExports makes the modules that
// `import { writev } from 'node:fs'` see the patched function.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const trigger = process.env.WARREN_FAULT_EIO;
const realWritev = fs.writev;
fs.writev = function writev(fd, buffers, position, callback) {
  const cb = typeof position === 'function' ? position : callback;
  if (trigger && fs.existsSync(trigger)) {
    const err = Object.assign(new Error('EIO: i/o error, writev'), { code: 'EIO', errno: -5, syscall: 'writev' });
    process.nextTick(cb, err);
    return;
  }
  return realWritev.call(fs, fd, buffers, position, callback);
};
syncBuiltinESMExports();
