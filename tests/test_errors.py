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


def test_an_error_reraised_by_tf_function_shows_the_original_reason():
    # the shape of TensorFlow's message for an error inside a traced function (Keras' bold escapes included)
    message = """in user code:

    File "/work/main/tfdisent/training/trainer.py", line 476, in train_loop  *
        logs = step_fn(next(iterator))
    File "/site-packages/keras/src/utils/traceback_utils.py", line 122, in error_handler  **
        raise e.with_traceback(filtered_tb) from None

    ValueError: Exception encountered when calling ConvEncoder.call().

    \x1b[1mInput 0 of layer 'conv1' is incompatible with the layer: expected axis -1 of input shape to have value 1, but received input with shape (8, 64, 64, 3)\x1b[0m

    Arguments received by ConvEncoder.call():
      \u2022 x=tf.Tensor(shape=(8, 64, 64, 3), dtype=float32)
"""
    assert one_line(ValueError(message)) == (
        "ValueError: Exception encountered when calling ConvEncoder.call(). Input 0 of layer 'conv1' is "
        "incompatible with the layer: expected axis -1 of input shape to have value 1, but received input with "
        "shape (8, 64, 64, 3)")
    plain = 'in user code:\n\n    File "x.py", line 1, in f  *\n        y = g()\n\n    InvalidArgumentError: bad shape\n'
    assert one_line(RuntimeError(plain)) == "InvalidArgumentError: bad shape"
    assert one_line(RuntimeError(plain), with_type=False) == "bad shape"
    # no inner error found: the first line, as before
    assert one_line(ValueError("in user code:\n\n   nothing else")) == "ValueError: in user code:"
