"""Answers render as Markdown, safely: raw HTML stays text, nothing is ever loaded, code can be copied."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from ui.chat.markdown import is_safe_url, segments, to_html
from ui.chat.messages import AssistantMessage
from ui.chat.rich_text import SafeBrowser

ANSWER = """Here is a table:

| name | qty |
|------|-----|
| milk | 2   |

And code:

```python
print("hello")
```

- one
- two
"""

HOSTILE = ('Look: <img src="http://evil.example/pixel.png"> <script>alert("x")</script> '
           '![tracker](http://evil.example/t.gif) [click](javascript:alert(1)) [site](https://example.com)')


def test_a_table_a_list_and_a_code_block_with_a_copy_button(qtbot):
    message = AssistantMessage()
    qtbot.addWidget(message)
    message.show()
    message.append(ANSWER)
    message.finish(ANSWER, "m1")
    html = "".join(b.toHtml() for b in message.body.browsers)
    assert "<table" in html and "milk" in html and "<li" in html
    assert len(message.body.code_blocks) == 1
    block = message.body.code_blocks[0]
    assert block.code == 'print("hello")' and block.copy_button.isVisible()
    qtbot.mouseClick(block.copy_button, Qt.LeftButton)
    assert QGuiApplication.clipboard().text() == 'print("hello")'
    assert block.copy_button.text() == "Copied"
    qtbot.mouseClick(message.copy_button, Qt.LeftButton)  # copy the whole message
    assert QGuiApplication.clipboard().text() == ANSWER


def test_raw_html_shows_as_text_and_nothing_is_loaded(qtbot):
    message = AssistantMessage()
    qtbot.addWidget(message)
    message.show()
    message.append(HOSTILE)
    message.finish(HOSTILE, "m2")
    shown = message.body.plain_text()
    assert '<img src="http://evil.example/pixel.png">' in shown  # the user sees the text itself
    assert '<script>alert("x")</script>' in shown
    assert "[tracker]" in shown  # a Markdown image becomes its alt text
    assert all(not b.refused for b in message.body.browsers)  # no resource was even asked for
    html = to_html(HOSTILE)
    assert "<img" not in html and "<script" not in html and "javascript:" not in html.split("[click]")[0]
    assert 'href="https://example.com"' in html


def test_the_view_refuses_resources_even_if_html_got_in(qtbot):
    browser = SafeBrowser()
    qtbot.addWidget(browser)
    browser.setHtml('<img src="http://evil.example/x.png"><img src="file:///etc/passwd">')
    browser.show()
    qtbot.wait(20)
    assert browser.refused  # asked, and refused: loadResource returns nothing
    assert all(browser.loadResource(2, u) is None for u in [])


def test_links_are_reported_only_after_a_click_and_only_safe_schemes():
    assert is_safe_url("https://example.com") and is_safe_url("file:///tmp/a.pdf#page=3")
    assert not is_safe_url("javascript:alert(1)") and not is_safe_url("data:text/html,hi")
    assert [s.kind for s in segments(ANSWER)] == ["html", "code", "html"]


def test_streaming_appends_plain_text_then_renders_once(qtbot):
    message = AssistantMessage()
    qtbot.addWidget(message)
    for piece in ["**bold", "** and ", "`code`"]:
        message.append(piece)
    assert message.body.plain_text() == "**bold** and `code`"  # plain while streaming
    message.finish("**bold** and `code`", "m3")
    assert message.body.plain_text().startswith("bold and code")
