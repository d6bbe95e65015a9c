"""Screenshots of every playground page for the README: serve a runs folder on 127.0.0.1,
drive each page in headless Chromium as a person would, save small PNGs.

    python docs/playground_screenshots.py runs/ --out docs/_static/playground

Needs the serve extra and Debian's chromium + chromium-driver. The PNGs are reduced to a
64-colour palette (Pillow, which matplotlib brings), which keeps a page near 50 KB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

#: page -> (what to type: element id -> text, the button to click, what to wait for)
STEPS = {
    "home": ("/", {}, None, ".card.part"),
    "tokenizer": ("/bpe", {"text": "ROMEO: To be, or not to be, that is the question.\n"
                                   "Whether 'tis nobler in the mind to suffer"},
                  None, "#tokens-1 .tok"),
    "vectors": ("/vectors", {}, ["similar-go", "analogy-go", "project-go"],
                "#project-out circle"),
    "ner": ("/ner", {"text": "Angela Merkel flew to Paris on Monday to meet officials from the "
                             "United Nations and Reuters ."}, ["go"], "#ents mark"),
    "translate": ("/translate", {"text": "je suis tres fatigue ."}, ["go"], "#heatmap rect"),
    "gpt": ("/gpt", {"prompt": "ROMEO:", "max_new_tokens": "160", "seed": "3"}, ["go"],
            "#attn-map rect"),
    "bert": ("/bert", {"fill-text": "The city is the [MASK] of the country ."}, ["fill-go"],
             ".mask tr.fill"),
}

HOVER = {"gpt": "#out .tok.gen", "tokenizer": "#tokens-0 .tok"}


def serve(runs: Path):
    import uvicorn

    from nanonlp.serve import create_app, load_all

    server = uvicorn.Server(uvicorn.Config(create_app(load_all({}, runs)), host="127.0.0.1",
                                           port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", type=Path, help="the runs folder to serve (e.g. runs/)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "_static" / "playground")
    p.add_argument("--pages", default=",".join(STEPS), help="comma-separated pages to shoot")
    args = p.parse_args()
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server, url = serve(args.runs)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="nanonlp-shots-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                 "--window-size=1180,860", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        for name in args.pages.split(","):
            path, typed, clicks, ready = STEPS[name]
            driver.set_window_size(1180, 860)
            driver.get(url + path)
            wait = WebDriverWait(driver, 120)
            wait.until(lambda d: d.execute_script("return NN.health !== null && NN.busy === 0"))
            for element_id, text in typed.items():
                el = driver.find_element(By.ID, element_id)
                el.clear()
                el.send_keys(text)
            for button in clicks or ():
                driver.find_element(By.ID, button).click()
                time.sleep(0.3)
            wait.until(lambda d, css=ready: d.find_elements(By.CSS_SELECTOR, css))
            wait.until(lambda d: d.execute_script("return NN.busy === 0"))
            hover = driver.find_elements(By.CSS_SELECTOR, HOVER.get(name, "#none-such"))
            if hover:  # show a tooltip: what hovering a token tells
                ActionChains(driver).move_to_element(hover[min(12, len(hover) - 1)]).perform()
            # the whole page, up to 1,600 px: grow the window to it, back at the top
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1180, min(max(height, 860), 1600))
            driver.execute_script("window.scrollTo(0, 0)")
            if hover:
                ActionChains(driver).move_to_element(hover[min(12, len(hover) - 1)]).perform()
            time.sleep(0.5)
            png = args.out / f"{name}.png"
            driver.save_screenshot(str(png))
            Image.open(png).convert("RGB").quantize(64).save(png, optimize=True)
            print(f"{png}: {png.stat().st_size // 1024} KB")
    finally:
        driver.quit()
        server.should_exit = True
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
