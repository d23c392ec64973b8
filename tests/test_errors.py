"""tfdisent.errors.one_line: the one-line form of an exception users see."""

from tfdisent.errors import one_line


def test_type_and_first_non_blank_line():
    assert one_line(ValueError("\n  bad flag --x\nTraceback (most recent call last):\n  ...")) == \
        "ValueError: bad flag --x"


def test_blank_message_gives_the_type_name():
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError("   \n ")) == "RuntimeError"
    assert one_line(OSError(""), with_type=False) == "OSError"


def test_without_type_for_callers_that_wrap_it():
    assert one_line(ConnectionError("refused\nmore"), with_type=False) == "refused"
