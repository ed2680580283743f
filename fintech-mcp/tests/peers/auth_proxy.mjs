// Forwards HTTP to fintech-mcp adding `Authorization: Bearer $FINTECH_API_KEY`, for peers
// that cannot send headers (the MCP conformance suite). Every other header, Host and Origin
// included, passes unchanged, so the server's own checks still apply.
// Usage: node auth_proxy.mjs LISTEN_PORT TARGET_PORT
import http from "node:http";

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
const auth = `Bearer ${process.env.FINTECH_API_KEY}`;

http
  .createServer((req, res) => {
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, authorization: auth },
      },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(upstream);
    res.on("close", () => upstream.destroy());
  })
  .listen(listenPort, "127.0.0.1", () => console.log(`auth proxy on ${listenPort} -> ${targetPort}`));
