"""Every playground page in a real browser (Debian's chromium through chromedriver and
selenium), driven as a person would: type, click, then read the DOM and compare it with the
library's answers. Any severe console error fails a test; each page leaves a screenshot in
the test's tmp folder. Skips where chromium, chromedriver or selenium is missing."""

from __future__ import annotations

import json
import shutil
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("selenium")

import torch
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait as _WebDriverWait
from serve_models import CHAT, build, chat_model, running

from nanonlp.serve import ServeConfig, create_app, load_all


def WebDriverWait(driver, timeout):
    """selenium's wait that looks again when the page re-rendered an element under it (a
    stale element mid-check means "not yet", not a failure)."""
    return _WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))

SEARCH_LINES = ["the king and the queen", "a man and a woman", "to be or not to be",
                "that is the question", "slings and arrows"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="chromium and chromium-driver are not installed (CI "
    "installs both: apt-get install chromium chromium-driver)")]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import shutil

    from nanonlp.bert import embed as E

    pytest.importorskip("spacy")
    root = tmp_path_factory.mktemp("runs")
    paths = build(root)
    # a search index beside the BERT that embedded it, and a sentence encoder without an MLM
    # head (what `bert import` makes of a sentence-transformers folder)
    lines = tmp_path_factory.mktemp("lines") / "lines.txt"
    lines.write_text("\n".join(SEARCH_LINES) + "\n", encoding="utf-8")
    E.embed_file(paths["bert"], lines, paths["bert"].parent / "lines.npy", progress=False)
    st = shutil.copytree(paths["bert"], root / "minilm" / "best")
    (st / E.EMBEDDING_FILE).write_text(json.dumps({"pooling": "mean", "mlm_head": False}))
    chat_model(tmp_path_factory.mktemp("chat"), root / "chat")  # a GPT with chat.json
    return load_all({}, root)


@pytest.fixture(scope="module")
def url(models):
    with running(create_app(models, ServeConfig(max_new_tokens=64))) as u:
        yield u


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('profile')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(options=opts, service=Service(DRIVER))
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def open_page(driver, url, path):
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url + path)
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return NN.health !== null"))
    return driver


def wait_for(driver, css, n=1, timeout=30):
    """The elements matching ``css`` once there are at least ``n`` of them."""
    WebDriverWait(driver, timeout).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, css)) >= n)
    return driver.find_elements(By.CSS_SELECTOR, css)


def settled(driver, timeout=30):
    """Wait until the page has no request in flight and no render scheduled."""
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return NN.busy === 0"))


def finish(driver, tmp_path, name, allow=()):
    """Save a screenshot; fail on a severe console message (except those naming ``allow``)."""
    driver.save_screenshot(str(tmp_path / f"{name}.png"))
    assert (tmp_path / f"{name}.png").stat().st_size > 5000
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
              and not any(a in e["message"] for a in allow)]
    assert not severe, severe


def type_into(driver, element_id, text):
    el = driver.find_element(By.ID, element_id)
    el.clear()
    el.send_keys(text)
    return el


def test_home_lists_every_part_with_its_models(driver, url, tmp_path):
    open_page(driver, url, "/")
    cards = wait_for(driver, ".card.part", 8)
    kinds = [c.get_attribute("data-kind") for c in cards]
    assert kinds == ["bpe", "vectors", "ner", "translate", "gpt", "chat", "bert", "index"]
    gpt = cards[4].find_elements(By.CSS_SELECTOR, ".models li")
    assert sorted(li.text for li in gpt) == ["chat/best", "gpt-rope/best", "gpt/best"]
    assert driver.find_element(By.CSS_SELECTOR, "nav a[data-kind=gpt] .count").text == "3"
    chat = cards[5].find_elements(By.CSS_SELECTOR, ".models li")
    assert [li.text for li in chat] == ["chat/best"]  # a chat model is a GPT with chat.json
    assert driver.find_element(By.CSS_SELECTOR, "nav a[data-kind=chat] .count").text == "1"
    finish(driver, tmp_path, "home")


def test_tokenizer_page_colours_the_tokens_of_typed_text(driver, url, models, tmp_path):
    open_page(driver, url, "/bpe")
    wait_for(driver, "#tokens-0 .tok")

    Select(driver.find_element(By.ID, "tok-0")).select_by_value("bpe/shakespeare.model")
    Select(driver.find_element(By.ID, "tok-1")).select_by_value("gpt:gpt-rope/best")
    text = "the king and<|endoftext|>the queen"
    type_into(driver, "text", text)
    settled(driver)
    tok = models.get("bpe", "bpe/shakespeare.model").obj
    want = tok.encode(text, allowed_special="all")
    spans = driver.find_elements(By.CSS_SELECTOR, "#tokens-0 .tok")
    assert [int(s.get_attribute("data-id")) for s in spans] == want
    assert "".join(s.text for s in spans) == text
    special = driver.find_elements(By.CSS_SELECTOR, "#tokens-0 .tok.special")
    assert [s.text for s in special] == ["<|endoftext|>"]
    assert len({s.value_of_css_property("background-color") for s in spans[:3]}) == 3
    assert driver.find_element(By.ID, "ids-0").text == str(want).replace(" ", "")
    assert f"{len(want)} tokens" in driver.find_element(By.ID, "stats-0").text
    wait_for(driver, "#tokens-1 .tok")
    ActionChains(driver).move_to_element(spans[1]).perform()
    tip = driver.find_element(By.ID, "tip")
    WebDriverWait(driver, 10).until(lambda d: tip.is_displayed())
    assert f"id {want[1]}" in tip.text and "bytes" in tip.text
    finish(driver, tmp_path, "tokenizer")


def test_vectors_page_neighbours_analogy_projection(driver, url, models, tmp_path):
    wv = models.get("vectors").obj
    open_page(driver, url, "/vectors")
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.ID, "words").get_attribute("value"))
    type_into(driver, "positive", "queen")
    driver.find_element(By.ID, "similar-go").click()
    rows = wait_for(driver, "#similar-out tr.result", 10)
    assert [r.find_element(By.CSS_SELECTOR, ".word").text for r in rows] == \
        [w for w, _ in wv.most_similar("queen", topn=10)]
    for element_id, word in (("a", "man"), ("b", "king"), ("c", "woman")):
        type_into(driver, element_id, word)
    driver.find_element(By.ID, "analogy-go").click()
    rows = wait_for(driver, "#analogy-out tr.result", 5)
    assert rows[0].find_element(By.CSS_SELECTOR, ".word").text == \
        wv.analogy("man", "king", "woman")[0][0]
    type_into(driver, "words", "king, queen, man, woman, paris, france")
    driver.find_element(By.ID, "project-go").click()
    assert len(wait_for(driver, "#project-out circle.point", 6)) == 6
    labels = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#project-out text")]
    assert labels == ["king", "queen", "man", "woman", "paris", "france"]
    finish(driver, tmp_path, "vectors")
    # an unknown word: the page says so (the 400 it got is the only console message)
    type_into(driver, "positive", "zebra")
    driver.find_element(By.ID, "similar-go").click()
    err = driver.find_element(By.ID, "error")
    WebDriverWait(driver, 10).until(lambda d: err.is_displayed())
    assert "word 'zebra' is not in the vocabulary" in err.text
    finish(driver, tmp_path, "vectors-error", allow=("status of 400",))


def test_ner_page_highlights_the_spans(driver, url, tmp_path):
    open_page(driver, url, "/ner")
    type_into(driver, "text", "Yesterday Angela Merkel flew to Paris to see the European Union.")
    driver.find_element(By.ID, "go").click()
    WebDriverWait(driver, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#ents mark.ent")) == 3
        and "Yesterday" in d.find_element(By.ID, "ents").text)
    marks = driver.find_elements(By.CSS_SELECTOR, "#ents mark.ent")
    assert [m.get_attribute("data-label") for m in marks] == ["PER", "LOC", "ORG"]
    assert marks[0].text.startswith("Angela Merkel")
    colours = {m.value_of_css_property("background-color") for m in marks}
    assert len(colours) == 3  # one colour per type
    rows = driver.find_elements(By.CSS_SELECTOR, "#spans tr.span")
    assert [r.text.split()[:3] for r in rows] == [["10", "23", "PER"], ["32", "37", "LOC"],
                                                   ["49", "63", "ORG"]]
    finish(driver, tmp_path, "ner")


def test_translate_page_hypotheses_and_attention(driver, url, models, tmp_path):
    tr = models.get("translate").obj
    open_page(driver, url, "/translate")
    type_into(driver, "text", "il est grand .")
    type_into(driver, "beam", "4")
    driver.find_element(By.ID, "go").click()
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.hyp") and
                                    d.find_element(By.CSS_SELECTOR, "tr.hyp .hyp-text").text
                                    == tr.translate(["il est grand ."], beam=4)[0].text)
    rows = driver.find_elements(By.CSS_SELECTOR, "tr.hyp")
    nbest = tr.translate_nbest("il est grand .", 4)
    assert [r.find_element(By.CSS_SELECTOR, ".hyp-text").text for r in rows] == \
        [t.text for t in nbest]
    cells = driver.find_elements(By.CSS_SELECTOR, "#heatmap rect.cell")
    assert len(cells) == len(nbest[0].target_pieces) * len(nbest[0].source_pieces)
    if len(rows) > 1:
        rows[1].click()
        WebDriverWait(driver, 10).until(lambda d: "chosen" in rows[1].get_attribute("class"))
        assert len(driver.find_elements(By.CSS_SELECTOR, "#heatmap rect.cell")) == \
            len(nbest[1].target_pieces) * len(nbest[1].source_pieces)
    finish(driver, tmp_path, "translate")


def test_gpt_page_streams_and_shows_probabilities_and_attention(driver, url, models, tmp_path,
                                                               monkeypatch):
    import nanonlp.serve.gpt as serve_gpt
    from nanonlp.gpt.sample import generate, stop_ids_for

    real = serve_gpt.token_event

    def slowly(*args):  # slow enough to watch the text grow
        time.sleep(0.04)
        return real(*args)

    monkeypatch.setattr(serve_gpt, "token_event", slowly)
    open_page(driver, url, "/gpt")

    Select(driver.find_element(By.ID, "model")).select_by_value("gpt/best")
    type_into(driver, "prompt", "To be, or")
    type_into(driver, "max_new_tokens", "40")
    type_into(driver, "temperature", "0.9")
    type_into(driver, "seed", "5")
    driver.find_element(By.ID, "go").click()
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        n = len(driver.find_elements(By.CSS_SELECTOR, "#out .tok.gen"))
        if not seen or n != seen[-1]:
            seen.append(n)
        if driver.execute_script("return document.getElementById('out').dataset.done === '1'"):
            break
        time.sleep(0.05)
    assert len([n for n in seen if 0 < n < 40]) >= 3, seen  # it grew while streaming
    entry = models.get("gpt", "gpt/best")
    tok = entry.tokenizer
    want = list(generate(entry.obj, tok.encode("To be, or"), 40, temperature=0.9, top_k=40,
                         generator=torch.Generator().manual_seed(5),
                         stop_ids=stop_ids_for(tok, "<|endoftext|>")))
    gen = driver.find_elements(By.CSS_SELECTOR, "#out .tok.gen")
    assert [int(s.get_attribute("data-id")) for s in gen] == want
    assert "stopped" in driver.find_element(By.ID, "stats").text
    ActionChains(driver).move_to_element(gen[3]).perform()
    tip = driver.find_element(By.ID, "tip")
    WebDriverWait(driver, 10).until(lambda d: tip.is_displayed())
    assert "under the model" in tip.text and "most likely" in tip.text
    n_all = len(driver.find_elements(By.CSS_SELECTOR, "#out .tok"))
    settled(driver)
    strip = wait_for(driver, "#attn-strip .tok", min(n_all, 32))
    assert len(strip) == min(n_all, 32)  # the last block_size tokens
    assert "selected" in strip[-1].get_attribute("class")
    strip[5].click()
    WebDriverWait(driver, 10).until(lambda d: "selected" in strip[5].get_attribute("class"))
    assert driver.find_elements(By.CSS_SELECTOR, "#attn-map rect.cell")
    finish(driver, tmp_path, "gpt")


def test_chat_page_streams_the_answers_of_a_conversation(driver, url, models, tmp_path,
                                                        monkeypatch):
    import nanonlp.serve.chat as serve_chat
    from nanonlp.gpt.chat import ChatConfig, reply

    real = serve_chat.ReadOnly.forward_cached

    def slowly(self, idx, cache=None):  # slow enough to watch the answer grow
        time.sleep(0.15)
        return real(self, idx, cache)

    monkeypatch.setattr(serve_chat.ReadOnly, "forward_cached", slowly)
    entry = models.get("gpt", "chat/best")
    open_page(driver, url, "/chat")
    assert [o.text for o in Select(driver.find_element(By.ID, "model")).options] == \
        ["chat/best"]  # the GPTs without chat.json are not offered
    type_into(driver, "temperature", "0")

    def say(text):
        """Type a message, send it with Enter; the answer's text as it grew, and at the end."""
        n = len(driver.find_elements(By.CSS_SELECTOR, "#turns .turn.assistant"))
        type_into(driver, "message", text).send_keys(Keys.ENTER)
        seen, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            bubbles = driver.find_elements(By.CSS_SELECTOR, "#turns .turn.assistant")
            if len(bubbles) > n:
                now = driver.execute_script("return arguments[0].textContent", bubbles[n])
                if not seen or now != seen[-1]:
                    seen.append(now)
            if driver.execute_script("return document.getElementById('turns').dataset.answers"
                                     ) == str(n + 1):
                break
            time.sleep(0.03)
        bubbles = driver.find_elements(By.CSS_SELECTOR, "#turns .turn.assistant")
        return seen, driver.execute_script("return arguments[0].textContent", bubbles[n])

    # the overfit model's training conversations, word for word: one turn, then two
    seen, first = say("hello")
    assert first == CHAT[0][1]["content"] == reply(entry.obj, entry.tokenizer, CHAT[0][:1],
                                                   ChatConfig(temperature=0))
    assert any(0 < len(s) < len(first) for s in seen), seen  # it grew while streaming
    driver.find_element(By.ID, "clear").click()
    assert not driver.find_elements(By.CSS_SELECTOR, "#turns .turn")
    answers = [say(text)[1] for text in ("2 + 2", "and 3 + 3")]
    assert answers == ["4", "6"] == [CHAT[2][1]["content"], CHAT[2][3]["content"]]
    assert answers[1] == reply(entry.obj, entry.tokenizer, CHAT[2][:3], ChatConfig(temperature=0))
    users = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#turns .turn.user")]
    assert users == ["2 + 2", "and 3 + 3"]
    assert "stopped: stop" in driver.find_element(By.ID, "stats").text
    # what the model read for the last answer: the template's tokens around every turn
    special = driver.find_elements(By.CSS_SELECTOR, "#prompt .tok.special")
    assert [s.text for s in special] == ["<|user_start|>", "<|user_end|>",
                                         "<|assistant_start|>", "<|assistant_end|>",
                                         "<|user_start|>", "<|user_end|>", "<|assistant_start|>"]
    finish(driver, tmp_path, "chat")


def test_bert_page_fill_mask_label_and_tags(driver, url, models, tmp_path):
    from nanonlp.bert.predict import fill_mask, predict_labels

    open_page(driver, url, "/bert")
    mlm = models.get("bert", "bert/best")
    type_into(driver, "fill-text", "the king [MASK] the queen")
    type_into(driver, "fill-k", "3")
    driver.find_element(By.ID, "fill-go").click()
    want = [json.dumps(t, ensure_ascii=False)  # as JSON.stringify shows it
            for t, _ in fill_mask(mlm.obj, mlm.tokenizer, "the king [MASK] the queen", 3)[0]]
    WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                                                  ".mask tr.fill")) == 3)
    tokens = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".fill-token")]
    assert tokens == want
    clf = models.get("bert", "bert-sst2/best")
    assert driver.find_element(By.ID, "classify-card").is_displayed()
    type_into(driver, "classify-text", "the queen and the man")
    driver.find_element(By.ID, "classify-go").click()
    chosen = wait_for(driver, "#classify-out tr.chosen")
    assert chosen[0].text.split()[0] == predict_labels(clf.obj, clf.tokenizer,
                                                       ["the queen and the man"])[0]
    assert driver.find_element(By.ID, "tag-card").is_displayed()
    driver.find_element(By.ID, "tag-go").click()
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "tag-out").text)
    finish(driver, tmp_path, "bert")


def test_bert_page_similarity_and_no_fill_mask_without_a_head(driver, url, tmp_path):
    open_page(driver, url, "/bert")
    notice = driver.find_element(By.ID, "nohead")
    WebDriverWait(driver, 10).until(lambda d: notice.is_displayed())
    assert "minilm/best" in notice.text and "masked-LM head" in notice.text
    fill_models = Select(driver.find_element(By.ID, "fill-model")).options
    assert "minilm/best" not in [o.get_attribute("value") for o in fill_models]
    assert driver.find_element(By.ID, "similarity-card").is_displayed()
    type_into(driver, "sim-a", "the king and the queen")
    type_into(driver, "sim-b", "the king and the queen")
    driver.find_element(By.ID, "sim-go").click()
    cosine = wait_for(driver, "#sim-cosine")[0]
    assert cosine.text == "1.0000"
    finish(driver, tmp_path, "bert-similarity")


def test_search_page_finds_the_nearest_line(driver, url, models, tmp_path):
    open_page(driver, url, "/search")
    assert Select(driver.find_element(By.ID, "model")).first_selected_option.text == \
        "bert/lines.npy"
    assert "5 lines" in driver.find_element(By.ID, "about").text
    type_into(driver, "query", "to be or not to be")
    type_into(driver, "k", "3")
    driver.find_element(By.ID, "go").click()
    hits = wait_for(driver, "#out tr.hit", 3)
    assert len(hits) == 3
    want = models.get("index").obj.search("to be or not to be", 3)
    assert [h.find_element(By.CSS_SELECTOR, ".hit-text").text for h in hits] == \
        [t for _, _, t in want]
    first = hits[0].find_elements(By.TAG_NAME, "td")
    assert [first[0].text, first[1].text, first[2].text] == ["3", "to be or not to be", "1.0000"]
    type_into(driver, "query", " ")
    driver.find_element(By.ID, "go").click()  # an empty query: the server's message, no rows
    error = driver.find_element(By.ID, "error")
    WebDriverWait(driver, 10).until(lambda d: error.is_displayed())
    assert error.text == "'query' is empty"
    assert not driver.find_elements(By.CSS_SELECTOR, "#out tr.hit")
    finish(driver, tmp_path, "search", allow=("status of 400",))
