/** Worker-thread entry for the perf sink (see sink.ts): start, report stats on request, close. */
import { parentPort, workerData } from 'node:worker_threads';
import { SinkServer, type SinkOptions } from './sink.js';

const port = parentPort;
if (port) {
  const sink = await SinkServer.start(workerData as SinkOptions);
  port.postMessage({ type: 'ready', port: sink.port });
  port.on('message', (m: { type: string }) => {
    if (m.type === 'stats') port.postMessage({ type: 'stats', value: { ...sink.stats } });
    else if (m.type === 'close') {
      void sink.close().then(() => port.postMessage({ type: 'close', value: null }));
    }
  });
}
