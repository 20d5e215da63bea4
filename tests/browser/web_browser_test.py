#!/usr/bin/python3
"""The web page in a real browser (SPEC §13): Debian's headless Chromium,
driven by chromium-driver through python3-selenium, against a real
aetherflowd and `aetherflow web` on an ephemeral port.

  web_browser_test.py BIN_DIR [SCREENSHOT_DIR]

Exits 77 (ctest's SKIP_RETURN_CODE) when Chromium, its driver or Selenium
is missing; scripts/setup.sh installs them. With SCREENSHOT_DIR, saves the
README's screenshots there (light and dark, laptop and phone).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    print("SKIP: chromium or chromium-driver is not installed (scripts/setup.sh)")
    sys.exit(77)
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("SKIP: python3-selenium is not installed (scripts/setup.sh)")
    sys.exit(77)

BIN = sys.argv[1]
SHOTS = sys.argv[2] if len(sys.argv) > 2 else ""
TIMEOUT = 60
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


tmp = tempfile.mkdtemp(prefix="af-browser-")
sock = os.path.join(tmp, "d.sock")
env = dict(os.environ, AETHERFLOW_NO_AUTOSTART="1", NO_COLOR="1")
env.pop("AETHERFLOW_SOCKET", None)
procs = []


def cli(*args):
    return subprocess.run([os.path.join(BIN, "aetherflow"), "--socket", sock, *args],
                          env=env, cwd=tmp, capture_output=True, text=True, check=True).stdout


def wait_until(what, cond, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = cond()
            if value:
                return value
        except Exception:  # the element is not there yet
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def answers(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def plan(name, steps, description, max_parallel=0):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        doc = {"description": description, "steps": steps}
        if max_parallel:
            doc["max_parallel"] = max_parallel
        json.dump(doc, f)
    return path


driver = None
try:
    # LLM steps against the OpenAI-compatible test server, for tokens and
    # cost over time.
    port_file = os.path.join(tmp, "port")
    fake = subprocess.Popen([os.path.join(BIN, "tests", "fake_openai"), "--port-file", port_file,
                             "--latency-ms", "150"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    procs.append(fake)
    wait_until("the test LLM server", lambda: os.path.getsize(port_file) > 0)
    config = os.path.join(tmp, "config.toml")
    with open(config, "w") as f:
        f.write('[providers.deepseek]\nbase_url = "http://127.0.0.1:%s/v1"\n'
                'price_input = 0.27\nprice_output = 1.10\n' % open(port_file).read().strip())
    daemon = subprocess.Popen([os.path.join(BIN, "aetherflowd"), "--socket", sock,
                               "--state-dir", os.path.join(tmp, "state"), "--config", config],
                              env=dict(env, DEEPSEEK_API_KEY="test-key"),
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "d.err"), "w"))
    procs.append(daemon)
    wait_until("the daemon", lambda: answers(sock))

    gate = os.path.join(tmp, "gate")
    demo = cli("submit", plan("demo.json", [
        {"id": "fetch", "run": "for i in 1 2 3 4 5 6; do echo fetched part $i; sleep 0.1; done"},
        {"id": "build", "run": "i=0; while [ ! -e %s ]; do i=$((i+1)); echo tick $i; sleep 0.1; done; echo built" % gate},
        {"id": "lint", "run": "sleep 0.5; echo lint ok"},
        {"id": "test", "run": "echo tests pass", "dependencies": ["fetch", "lint"]},
        {"id": "package", "run": "echo packaged", "dependencies": ["build", "test"]},
    ], "Nightly build", max_parallel=4)).split()[0]
    llm = cli("submit", plan("llm.json", [
        {"id": "gen_%d" % i, "type": "code_generation", "description": "Generate module %d" % i,
         "context": {"language": "python", "files": ["mod_%d.py" % i]}} for i in range(6)
    ], "Generate modules", max_parallel=2)).split()[0]
    doomed = cli("submit", plan("long.json", [{"id": "soak", "run": "sleep 600"}],
                                "Soak test")).split()[0]

    web = subprocess.Popen([os.path.join(BIN, "aetherflow"), "--socket", sock, "web",
                            "--listen", "127.0.0.1:0"], env=env, stdout=subprocess.PIPE,
                           stderr=open(os.path.join(tmp, "web.err"), "w"), text=True)
    procs.append(web)
    m = re.search(r"serving (http://127\.0\.0\.1:\d+)/", web.stdout.readline())
    assert m, "aetherflow web did not say where it serves"
    base = m.group(1)

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-default-apps", "--disable-sync"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT)

    def requested_urls():
        urls = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
        return urls

    def console_errors():
        return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]

    # The runs list, newest first, live.
    driver.get(base + "/")
    wait_until("the runs listed", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) >= 3)
    rows = driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    check(rows[0].get_attribute("data-run") == doomed, "the newest run is first")
    check(len(rows) == 3, "three runs listed")
    if SHOTS:
        driver.save_screenshot(os.path.join(SHOTS, "web-runs.png"))

    # The run page: a step goes from Running to Completed without a reload.
    driver.get(base + "/runs/" + demo)
    row = lambda step: driver.find_element(By.CSS_SELECTOR, '#steps tbody tr[data-step="%s"]' % step)
    wait_until("build running", lambda: row("build").get_attribute("data-state") == "running")
    check("Running" in row("build").text, "the table says Running: " + row("build").text)
    driver.execute_script("window.afNoReload = 42;")
    # The timeline: one lane per parallel slot (fetch, build and lint ran
    # together), every attempt drawn on one.
    wait_until("fetch and lint done", lambda: row("lint").get_attribute("data-state") == "completed")
    lanes = int(driver.find_element(By.ID, "timeline").get_attribute("data-lanes"))
    check(lanes == 3, "three lanes, not %d" % lanes)
    bars = driver.find_elements(By.CSS_SELECTOR, "#timeline rect.a")
    check({b.get_attribute("data-step") for b in bars} >= {"fetch", "build", "lint"},
          "every attempt is on the timeline")
    check(len({b.get_attribute("data-lane") for b in bars}) == lanes, "the attempts use every lane")
    driver.find_element(By.ID, "zoom-in").click()
    wide = driver.find_element(By.CSS_SELECTOR, "#timeline svg").get_attribute("width")
    check(int(wide) > 1000, "zooming in widens the timeline (%s)" % wide)
    driver.find_element(By.ID, "zoom-reset").click()
    # The log tail of a running step, following it.
    row("build").click()
    log = driver.find_element(By.ID, "log-text")
    wait_until("the build log", lambda: "tick" in log.text)
    first = int(re.findall(r"tick (\d+)", log.text)[-1])
    wait_until("the log to follow", lambda: int(re.findall(r"tick (\d+)", log.text)[-1]) > first + 2)
    if SHOTS:
        driver.set_window_size(1280, 1500)
        driver.save_screenshot(os.path.join(SHOTS, "web-run-light.png"))
        driver.set_window_size(1280, 900)
    open(gate, "w").close()
    wait_until("build completed", lambda: row("build").get_attribute("data-state") == "completed")
    check("Completed" in row("build").text, "the table says Completed")
    wait_until("the run succeeded", lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "succeeded")
    wait_until("the log ended", lambda: "built" in log.text)
    check(driver.execute_script("return window.afNoReload;") == 42, "the page was never reloaded")
    events = int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-events"))
    seq = int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-seq"))
    check(events == seq, "every event arrived once (%d of %d)" % (events, seq))
    if SHOTS:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        driver.set_window_size(1280, 1500)
        time.sleep(0.3)  # a repaint, for the picture only
        driver.save_screenshot(os.path.join(SHOTS, "web-run-dark.png"))
        driver.set_window_size(1280, 900)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        time.sleep(0.3)
        driver.save_screenshot(os.path.join(SHOTS, "web-run-phone.png"))
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    # Tokens and cost over time, from the LLM steps' figures.
    driver.get(base + "/runs/" + llm)
    wait_until("the LLM run's end", lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "succeeded")
    check(driver.find_elements(By.CSS_SELECTOR, "#series path.tokens"), "a tokens line")
    check(driver.find_elements(By.CSS_SELECTOR, "#series path.cost"), "a cost line")
    check("Tokens: -" not in driver.find_element(By.ID, "figures").text, "the header has tokens")
    if SHOTS:
        driver.set_window_size(1280, 1100)
        driver.save_screenshot(os.path.join(SHOTS, "web-run-llm.png"))
        driver.set_window_size(1280, 900)

    # Cancel from the page (the button asks for a second click).
    driver.get(base + "/runs/" + doomed)
    wait_until("soak running", lambda: driver.find_element(By.CSS_SELECTOR, 'tr[data-step="soak"]').get_attribute("data-state") == "running")
    cancel = driver.find_element(By.ID, "cancel")
    cancel.click()
    cancel.click()
    wait_until("the run cancelled", lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "cancelled")
    check(json.loads(cli("--json", "status", doomed))["run"]["state"] == "cancelled",
          "the daemon cancelled the run")

    # Nothing was fetched from elsewhere; the page broke no rule of its CSP.
    urls = requested_urls()
    foreign = [u for u in urls if not u.startswith(base + "/")]
    check(not foreign, "requests to elsewhere: %s" % foreign)
    errors = console_errors()
    check(not errors, "console errors: %s" % errors)

    # The report, opened from disk: the same view, no network at all.
    report = os.path.join(tmp, "run.html")
    cli("report", demo, "-o", report)
    driver.get("file://" + report)
    wait_until("the report's table", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#steps tbody tr")) == 5)
    check(driver.find_element(By.ID, "state").text == "succeeded", "the report shows the run's state")
    check(int(driver.find_element(By.ID, "timeline").get_attribute("data-lanes")) == 3,
          "the report's timeline has the lanes")
    check(driver.find_element(By.ID, "cancel").get_attribute("disabled") is not None,
          "a report has no live buttons")
    urls = requested_urls()
    check(all(u.startswith("file://") for u in urls), "the report fetched %s" % urls)
    check(not console_errors(), "the report's console: %s" % console_errors())
finally:
    if driver:
        driver.quit()
    for p in reversed(procs):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    if not failures:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("test files kept in", tmp)

if failures:
    sys.exit(1)
print("browser test passed")
