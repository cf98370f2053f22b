#!/usr/bin/python3
"""Independent MQTT clients for the end-to-end tests (Eclipse Paho Python, Debian's
python3-paho-mqtt): a publisher of numbered messages and a subscriber that writes down every
message it gets, duplicates included. Neither shares code with weir's own MQTT client.

  mqtt_clients.py pub --port P --topic T --count N --qos Q --rate R --id ID --done FILE
                    [--start S] [--pad BYTES] [--inflight K]
  mqtt_clients.py sub --port P --filter F --qos Q --id ID --out FILE

Both use a persistent session and reconnect on their own (a broker restarted mid-stream); the
publisher keeps unconfirmed QoS 1/2 messages and sends them again (paho does, with DUP). The
publisher writes `--done` once every message was confirmed by the broker. It publishes n = S ..
S+N-1 (`--start`, default 0), each with a "pad" string of BYTES characters when `--pad` is given,
with at most K unconfirmed at a time (`--inflight`, default 100; 1: one at a time, in order).
"""
import argparse
import sys
import threading
import time

import paho.mqtt.client as mqtt


def connect(client, port):
    while True:
        try:
            client.connect("127.0.0.1", port, keepalive=10)
            return
        except OSError:
            time.sleep(0.2)


def run_sub(a):
    out = open(a.out, "a", buffering=1)
    subscribed = threading.Event()

    def on_connect(c, userdata, flags, rc):
        if rc == 0:
            c.subscribe(a.filter, qos=a.qos)

    def on_subscribe(c, userdata, mid, granted):
        subscribed.set()
        print("subscribed", granted, flush=True)

    def on_message(c, userdata, msg):
        out.write(msg.payload.decode() + "\n")

    c = mqtt.Client(client_id=a.id, clean_session=False)
    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    c.reconnect_delay_set(0.1, 1)
    connect(c, a.port)
    c.loop_forever(retry_first_connection=True)


def run_pub(a):
    confirmed = set()
    lock = threading.Lock()

    def on_publish(c, userdata, mid):
        with lock:
            confirmed.add(mid)

    c = mqtt.Client(client_id=a.id, clean_session=False)
    c.on_publish = on_publish
    c.max_inflight_messages_set(a.inflight)
    c.max_queued_messages_set(0)  # unlimited: what cannot go out while the broker is away waits
    c.reconnect_delay_set(0.1, 1)
    connect(c, a.port)
    c.loop_start()
    infos = []
    start = time.monotonic()
    pad = ',"pad":"%s"' % ("x" * a.pad) if a.pad > 0 else ""
    for i in range(a.count):
        if a.rate > 0:
            due = start + i / a.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
        n = a.start + i
        infos.append(c.publish(a.topic, '{"n":%d,"v":%d%s}' % (n, n % 100, pad), qos=a.qos))
    print("published", a.count, "in", round(time.monotonic() - start, 1), "s", flush=True)
    # A message published while the broker was away has rc "not connected" but stays queued and
    # goes out after the reconnect: confirmed is what on_publish saw (PUBACK / PUBCOMP).
    if a.qos > 0:
        mids = set(info.mid for info in infos)
        while True:
            with lock:
                if mids <= confirmed:
                    break
            time.sleep(0.05)
    print("confirmed", a.count, "in", round(time.monotonic() - start, 1), "s", flush=True)
    with open(a.done, "w") as f:
        f.write("done\n")
    c.loop_stop()
    c.disconnect()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["pub", "sub"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--qos", type=int, default=1)
    p.add_argument("--id", required=True)
    p.add_argument("--topic")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--pad", type=int, default=0)
    p.add_argument("--inflight", type=int, default=100)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--done")
    p.add_argument("--filter")
    p.add_argument("--out")
    a = p.parse_args()
    run_pub(a) if a.mode == "pub" else run_sub(a)


if __name__ == "__main__":
    sys.exit(main())
