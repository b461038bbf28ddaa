"""npm packages the tests need (a test OpenID provider, axe-core), installed with `npm ci`
from a committed lock file into the package's own node_modules/ (not committed); again
only when the lock file changes."""

import hashlib
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_installed(package_dir: Path) -> Path:
    """Install `package_dir`'s locked dependencies if needed; returns its node_modules."""
    if not shutil.which("node") or not shutil.which("npm"):
        subprocess.run([str(ROOT / "scripts" / "ensure-node")], check=True)
    modules = package_dir / "node_modules"
    stamp = modules / ".dlqadmin-lock-sha256"
    digest = hashlib.sha256((package_dir / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        return modules
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=package_dir, check=True,
                   timeout=300)
    stamp.write_text(digest)
    return modules
