"""An openpi-style client for `nfp serve`, written from openpi-client's documented wire format (WebSocket,
msgpack maps, numpy arrays as maps with binary keys __ndarray__/data/dtype/shape, Api-Key header), not from its
code. Usage: openpi_client.py PORT API_KEY REQUESTS. Exits non-zero with a message on the first mismatch."""
import asyncio
import http.client
import sys

import msgpack
import numpy as np
import websockets


def encode(obj):
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def decode(obj):
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def pack(obj):
    return msgpack.packb(obj, default=encode)


def unpack(data):
    return msgpack.unpackb(data, object_hook=decode)


def check(ok, what):
    if not ok:
        print("openpi client: FAILED:", what)
        sys.exit(1)


async def connect(port, api_key):
    headers = {"Authorization": f"Api-Key {api_key}"} if api_key else None
    return await websockets.connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None, extra_headers=headers)


async def main(port, api_key, requests):
    # health, on the same port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    check(r.status == 200 and r.read().strip() == b"OK", "GET /healthz answers 200 OK")

    # the metadata first, then actions for every request
    ws = await connect(port, api_key)
    meta = unpack(await ws.recv())
    check(meta["protocol"].startswith("nfp-openpi"), f"metadata names the protocol: {meta.get('protocol')}")
    horizon, action_dim = meta["horizon"], meta["action_dim"]
    rng = np.random.default_rng(0)
    for i in range(requests):
        obs = {o["key"]: rng.uniform(-0.3, 0.3, size=o["shape"]).astype(np.float32 if i % 2 else np.float64)
               for o in meta["observation"]}
        if meta["instruction"]:
            obs[meta["instruction_key"]] = "push the block"
        await ws.send(pack(obs))
        reply = await ws.recv()
        check(isinstance(reply, bytes), f"request {i}: a binary reply, got {reply!r:.200}")
        out = unpack(reply)
        a = out["actions"]
        check(isinstance(a, np.ndarray) and a.shape == (horizon, action_dim) and a.dtype == np.float32,
              f"request {i}: actions of shape ({horizon}, {action_dim}) float32, got {getattr(a, 'shape', a)}")
        check(np.all(np.isfinite(a)), f"request {i}: finite actions")
        check("infer_ms" in out["server_timing"] and "infer_ms" in out["policy_timing"], "timings in every reply")
    await ws.close()

    # an error goes to this client only: a text frame, then close 1011
    bad = await connect(port, api_key)
    await bad.recv()
    await bad.send(pack({"not_an_observation": np.zeros(3, np.float32)}))
    err = await bad.recv()
    check(isinstance(err, str) and "lacks observation" in err, f"an error as text, got {err!r:.200}")
    try:
        await bad.recv()
        check(False, "the connection closes after an error")
    except websockets.ConnectionClosed as e:
        check(e.code == 1011, f"close code 1011 after an error, got {e.code}")

    # without the key: refused with HTTP 401
    if api_key:
        try:
            await connect(port, "")
            check(False, "a client without the API key is refused")
        except websockets.InvalidStatusCode as e:
            check(e.status_code == 401, f"HTTP 401 without the key, got {e.status_code}")
    print(f"openpi client: metadata, {requests} requests of ({horizon}, {action_dim}) actions, error frame, auth: ok")


asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
