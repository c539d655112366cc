"""The operator console in a real browser: Debian's headless Chromium, driven through
chromium-driver by Selenium. Starts the gateway (TARGET/debug/gateway) with an admin listener and a
capacity pool, creates three bookings through the API and revokes one, then in the browser:
loads the console, gives the operator token, filters on SCHEDULED, revokes a booking from
its row. Checks the result through the API, and keeps a screenshot (OUT/console.png).
Usage: console_test.py GATEWAY_BINARY OUT_DIR"""
import json
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

binary, out = sys.argv[1], pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


api_port, admin_port = free_port(), free_port()
config = out / "console-config.yaml"
config.write_text(
    "capacity:\n  pools:\n    - name: stadium\n      area_names: [stadium-north]\n"
    "      profiles: {QOS_L: 5}\n"
)
gateway = subprocess.Popen(
    [binary, "--config", str(config)],
    env={
        "QOSGW__SERVER__LISTEN": f"127.0.0.1:{api_port}",
        "QOSGW__SERVER__ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
        "RUST_LOG": "warn",
        "PATH": "/usr/bin:/bin",
    },
    stdout=subprocess.PIPE,
    text=True,
)
def stop_gateway():
    gateway.terminate()
    try:
        gateway.wait(timeout=30)
    except subprocess.TimeoutExpired:
        gateway.kill()


tokens = {}
deadline = time.time() + 30
while len(tokens) < 2 and time.time() < deadline:
    line = gateway.stdout.readline()
    for name in ("TOKEN", "OPERATOR_TOKEN"):
        if line.startswith(f"export {name}="):
            tokens[name] = line.split("=", 1)[1].strip()
if len(tokens) < 2:
    stop_gateway()
    sys.exit("the gateway did not print its tokens")

api = f"http://127.0.0.1:{api_port}/qos-booking/v0.2/device-qos-bookings"


def call(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Authorization", "Bearer " + tokens["TOKEN"])
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as res:
            text = res.read()
            return res.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
ids = []
for phone in ("+123456789", "+123456780", "+4915112345678"):
    status, b = call("POST", api, {
        "device": {"phoneNumber": phone}, "qosProfile": "QOS_L", "startTime": start, "duration": 600,
        "serviceArea": {"areaType": "AREANAME", "areaName": "stadium-north"},
    })
    assert status == 201 and b["bookingStatus"] == "SCHEDULED", (status, b)
    ids.append(b["bookingId"])
assert call("DELETE", f"{api}/{ids[2]}")[0] == 204

options = Options()
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
    options.add_argument(arg)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    wait = WebDriverWait(driver, 10)
    driver.get(f"http://127.0.0.1:{admin_port}/admin/console")
    driver.find_element(By.ID, "token").send_keys(tokens["OPERATOR_TOKEN"])
    driver.find_element(By.ID, "use-token").click()
    rows = lambda: driver.find_elements(By.CSS_SELECTOR, "#bookings tbody tr")
    wait.until(lambda d: len(rows()) == 3)
    # Filter: only the two SCHEDULED ones.
    Select(driver.find_element(By.ID, "f-status")).select_by_visible_text("SCHEDULED")
    driver.find_element(By.ID, "load").click()
    wait.until(lambda d: len(rows()) == 2)
    target = rows()[0].get_attribute("data-booking-id")
    assert target in ids[:2], target
    rows()[0].find_element(By.CSS_SELECTOR, "button.revoke").click()
    wait.until(lambda d: len(rows()) == 1 and "revoke:" in d.find_element(By.ID, "message").text)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg.calendar rect")) > 0)
    driver.save_screenshot(str(out / "console.png"))
    # Through the API: revoked, and the client can read why.
    status, b = call("GET", f"{api}/{target}")
except BaseException:
    driver.save_screenshot(str(out / "console-failed.png"))
    raise
finally:
    driver.quit()
    stop_gateway()

assert status == 200 and b["bookingStatus"] == "TERMINATED" and b["statusInfo"] == "BOOKING_REVOKED", (status, b)
print(f"console test passed: revoked {target} from the console; screenshot {out / 'console.png'}")
