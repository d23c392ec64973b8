"""Every flagfile under flags/ parses with tfdisent-train's flags and names valid hyperparameters."""

import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(ROOT, "flags", "**", "*.flags"), recursive=True))

# One process parses them all (importing TensorFlow once); flags are reset between files.
_CHECK = """
import json, sys
from absl import flags
from tfdisent.bin import train
parsed = {}
for path in sys.argv[1:]:
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["tfdisent-train", "--flagfile=" + path])
    parsed[path] = [flags.FLAGS.method, sorted(train._hyperparameters(flags.FLAGS.method))]
print(json.dumps(parsed))
"""


def test_there_is_a_flagfile_per_core_method():
    names = {os.path.basename(p)[:-len(".flags")] for p in FLAGFILES}
    assert {"vae", "beta_vae", "annealed_vae", "factor_vae", "beta_tcvae", "dip_vae_i", "dip_vae_ii",
            "info_vae"} <= names


def test_every_flagfile_parses_and_names_its_method():
    result = subprocess.run([sys.executable, "-c", _CHECK, *FLAGFILES], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(parsed) == set(FLAGFILES)
    for path, (method, _) in parsed.items():
        if not path.endswith("shared.flags"):
            assert os.path.basename(path).startswith(method), (path, method)
