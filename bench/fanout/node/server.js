// The Node.js socket.io baseline of bench/fanout (see bench/fanout/run.py).
//
// Same contract as the Python servers: clients send `subscribe {room}` with an
// ack and join the room; the control endpoints publish a 1 KB JSON state to the
// room with `io.to(room).emit(room, data)`, flat out or at a fixed rate, with
// the publish time (seconds since the epoch) in the payload's first key "t".
"use strict";

const http = require("http");
const { performance } = require("perf_hooks");
const { Server } = require("socket.io");

const port = Number(process.argv[2]);
const room = process.argv[3];
const base = JSON.parse(process.argv[4]);

const now = () => (performance.timeOrigin + performance.now()) / 1000;
const payload = () => Object.assign({ t: now() }, base);

function flat(seconds, done) {
  const start = now();
  const end = start + seconds;
  let published = 0;
  const step = () => {
    if (now() >= end) return done({ published, start, end: now() });
    io.to(room).emit(room, payload());
    published += 1;
    setImmediate(step);
  };
  step();
}

function paced(rate, seconds, done) {
  const start = now();
  let published = 0;
  const timer = setInterval(() => {
    io.to(room).emit(room, payload());
    published += 1;
    if (published >= rate * seconds) {
      clearInterval(timer);
      done({ published, start, end: now() });
    }
  }, 1000 / rate);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const reply = (body) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === "/bench/ready") return reply({ ready: true });
  if (url.pathname === "/bench/run") {
    const seconds = Number(url.searchParams.get("seconds"));
    if (url.searchParams.get("mode") === "flat") return flat(seconds, reply);
    return paced(Number(url.searchParams.get("rate")), seconds, reply);
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(server, { perMessageDeflate: false, pingInterval: 20000, pingTimeout: 20000 });
io.on("connection", (socket) => {
  socket.on("subscribe", (data, ack) => {
    socket.join(data.room);
    if (typeof ack === "function") ack({ success: true });
  });
});

server.listen(port, "127.0.0.1");
