"""``python -m tfdisent.serving_double``: the TF Serving double's command line."""

from tfdisent.serving_double.server import main

if __name__ == "__main__":
    main()
