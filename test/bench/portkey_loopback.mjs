// test/bench/portkey_loopback.mjs — preloaded into the Portkey gateway by
// bench_peer.sh (node --import) so that it listens on 127.0.0.1 only: its
// start-server.js calls server.listen(port, undefined, cb), i.e. on every
// interface, and has no option for the address.  A listen(port) without a
// host gets host 127.0.0.1; anything else is left alone.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length < 2 || args[1] === undefined || typeof args[1] === 'function')) {
    if (args.length >= 2 && args[1] === undefined) args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  } else if (args[0] !== null && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
