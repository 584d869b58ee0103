"""The Home Assistant side of tests/ha.rs: a real Home Assistant core and a mosquitto broker,
both on loopback, driven over Home Assistant's own REST and websocket APIs.

    python harness.py DIR MOSQUITTO

Run with the Python of target/ha-venv (scripts/ha-venv). It
1. writes DIR/configuration.yaml (http on a free loopback port, recorder, history, energy,
   api, config) and DIR/.storage/auth with one administrator and a long-lived access token
   (a refresh token of that type; the access token is its JWT, as Home Assistant signs it);
2. starts mosquitto (a free loopback port, no persistence) and Home Assistant
   (`python -m homeassistant --config DIR --skip-pip`: everything it needs is installed);
3. waits for the API, creates the MQTT entry through the config flow (REST
   /api/config/config_entries/flow, as the UI does), and waits for it to be loaded;
4. prints one line `{"ready": {"http": PORT, "mqtt": PORT, "token": TOKEN, "seconds": S}}`,
   then answers requests, one JSON line each on standard input, with one JSON line:
   `{"ws": {...}}` (a websocket command, its id added) → `{"result": ...}` or `{"error": ...}`;
   `{"rest": {"method": M, "path": P, "body": B}}` → `{"status": S, "json": J}`.
On end of input (the test process ended, however) it stops Home Assistant and mosquitto.
"""

import asyncio
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import aiohttp
import jwt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """The child gets SIGTERM when this process ends (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
    except OSError:
        pass


def write_config(d: str, http_port: int) -> str:
    """configuration.yaml and .storage/auth; returns the access token."""
    os.makedirs(os.path.join(d, ".storage"), exist_ok=True)
    with open(os.path.join(d, "configuration.yaml"), "w") as f:
        f.write(
            f"""homeassistant:
  name: tic-rec tests
  latitude: 48.8566
  longitude: 2.3522
  elevation: 35
  unit_system: metric
  time_zone: Europe/Paris
  currency: EUR
  country: FR
  language: en
http:
  server_host: 127.0.0.1
  server_port: {http_port}
api:
config:
recorder:
  commit_interval: 1
history:
energy:
logger:
  default: info
  logs:
    homeassistant.components.http: warning
    aiohttp.access: warning
    homeassistant.components.websocket_api: warning
"""
        )
    user_id = uuid.uuid4().hex
    token_id = uuid.uuid4().hex
    jwt_key = secrets.token_hex(64)
    now = datetime.now(timezone.utc)
    ten_years = 10 * 365 * 24 * 3600
    auth = {
        "version": 1,
        "minor_version": 1,
        "key": "auth",
        "data": {
            "users": [
                {
                    "id": user_id,
                    "group_ids": ["system-admin"],
                    "is_owner": True,
                    "is_active": True,
                    "name": "tic-rec tests",
                    "system_generated": False,
                    "local_only": False,
                }
            ],
            "groups": [
                {"id": "system-admin", "name": "Administrators"},
                {"id": "system-users", "name": "Users"},
                {"id": "system-read-only", "name": "Read Only"},
            ],
            "credentials": [],
            "refresh_tokens": [
                {
                    "id": token_id,
                    "user_id": user_id,
                    "client_id": None,
                    "client_name": "tic-rec tests",
                    "client_icon": None,
                    "token_type": "long_lived_access_token",
                    "created_at": now.isoformat(),
                    "access_token_expiration": float(ten_years),
                    "token": secrets.token_hex(64),
                    "jwt_key": jwt_key,
                    "last_used_at": None,
                    "last_used_ip": None,
                    "expire_at": None,
                    "credential_id": None,
                    "version": None,
                }
            ],
        },
    }
    path = os.path.join(d, ".storage", "auth")
    with open(path, "w") as f:
        json.dump(auth, f)
    os.chmod(path, 0o600)
    iat = int(time.time())
    return jwt.encode(
        {"iss": token_id, "iat": iat, "exp": iat + ten_years}, jwt_key, algorithm="HS256"
    )


def start_mosquitto(d: str, exe: str, port: int) -> subprocess.Popen:
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    log = open(os.path.join(d, "mosquitto.log"), "w")
    p = subprocess.Popen(
        [exe, "-c", conf], stdout=subprocess.DEVNULL, stderr=log, preexec_fn=die_with_parent
    )
    deadline = time.monotonic() + 10
    while True:
        if p.poll() is not None:
            raise SystemExit(f"mosquitto exited: {open(log.name).read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("mosquitto never listened")
            time.sleep(0.02)


async def rest(session, base, token, method, path, body=None):
    async with session.request(
        method,
        base + path,
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    ) as r:
        text = await r.text()
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text
        return r.status, data


async def main() -> None:
    d, mosquitto = sys.argv[1], sys.argv[2]
    t0 = time.monotonic()
    http_port, mqtt_port = free_port(), free_port()
    token = write_config(d, http_port)
    broker = start_mosquitto(d, mosquitto, mqtt_port)
    ha = subprocess.Popen(
        [sys.executable, "-m", "homeassistant", "--config", d, "--skip-pip"],
        stdout=open(os.path.join(d, "ha.stdout"), "w"),
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 240
            while True:
                if ha.poll() is not None:
                    raise SystemExit(f"Home Assistant exited ({ha.returncode}); see {d}")
                try:
                    status, _ = await rest(session, base, token, "GET", "/api/")
                    if status == 200:
                        break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("Home Assistant's API never answered")
                await asyncio.sleep(0.2)
            # The MQTT entry, through the config flow.
            status, flow = await rest(
                session,
                base,
                token,
                "POST",
                "/api/config/config_entries/flow",
                {"handler": "mqtt", "show_advanced_options": False},
            )
            assert status == 200 and flow.get("step_id") == "broker", (status, flow)
            status, done = await rest(
                session,
                base,
                token,
                "POST",
                f"/api/config/config_entries/flow/{flow['flow_id']}",
                {"broker": "127.0.0.1", "port": mqtt_port},
            )
            assert status == 200 and done.get("type") == "create_entry", (status, done)
            entry = done["result"]["entry_id"]
            deadline = time.monotonic() + 60
            while True:
                status, entries = await rest(
                    session, base, token, "GET", "/api/config/config_entries/entry"
                )
                state = next((e["state"] for e in entries if e["entry_id"] == entry), None)
                if state == "loaded":
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the MQTT entry is {state}")
                await asyncio.sleep(0.1)
            ws = await session.ws_connect(f"ws://127.0.0.1:{http_port}/api/websocket")
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            ready = {
                "http": http_port,
                "mqtt": mqtt_port,
                "token": token,
                "seconds": round(time.monotonic() - t0, 1),
            }
            print(json.dumps({"ready": ready}), flush=True)
            reader = asyncio.StreamReader()
            loop = asyncio.get_running_loop()
            await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
            )
            next_id = 1
            while line := await reader.readline():
                req = json.loads(line)
                if "ws" in req:
                    msg = dict(req["ws"], id=next_id)
                    next_id += 1
                    await ws.send_json(msg)
                    while True:
                        got = await ws.receive_json()
                        if got.get("id") == msg["id"] and got.get("type") == "result":
                            break
                    if got.get("success"):
                        out = {"result": got.get("result")}
                    else:
                        out = {"error": got.get("error")}
                else:
                    r = req["rest"]
                    status, data = await rest(
                        session, base, token, r["method"], r["path"], r.get("body")
                    )
                    out = {"status": status, "json": data}
                print(json.dumps(out), flush=True)
    finally:
        ha.terminate()
        try:
            ha.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ha.kill()
        broker.terminate()
        broker.wait()


if __name__ == "__main__":
    asyncio.run(main())
