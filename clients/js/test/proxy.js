// A reverse proxy for tests: serves a qunfa server under a path prefix
// (`http://127.0.0.1:P/qunfa/…` → `http://server/…`), as nginx with `location /qunfa/` and
// `proxy_pass http://qunfa/;` would.

import http from 'node:http';

/** Starts the proxy on a free port; answers its base URL (with the prefix) and `close()`. */
export async function startProxy(target, prefix = '/qunfa') {
  const up = new URL(target);
  const server = http.createServer((req, res) => {
    if (!req.url.startsWith(`${prefix}/`)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('outside the prefix');
      return;
    }
    const forward = http.request({
      host: up.hostname,
      port: up.port,
      method: req.method,
      path: req.url.slice(prefix.length),
      headers: { ...req.headers, host: up.host, 'x-forwarded-prefix': prefix },
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}${prefix}`,
    close: () => new Promise((done) => {
      server.closeAllConnections();
      server.close(done);
    }),
  };
}
