"""Tests of scripts/tools.sh's Debian packages: each is installed at the build Debian's archive
offers (never a version the script names), checked against its range, and left alone, apt and
all, once installed in range; the local Lambda base image is keyed on the builds it fetched.
The script runs as it is, with apt-cache, apt-get, dpkg-query, dpkg and id replaced by stubs on
PATH (dpkg only compares versions, with the real one), so nothing touches the machine. Run with:
  "$(scripts/tools.sh python)/python" -B -m unittest discover -s scripts -p 'test_*.py'
"""
import os
import shutil
import subprocess
import tempfile
import unittest

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(SCRIPTS, "tools.sh")

# Each stub appends its command line to $STUB/calls. Packages apt offers are files
# $STUB/candidate/NAME holding a version, installed ones $STUB/installed/NAME.
ARGS = r'''
echo "$(basename "$0") $*" >> "$STUB/calls"
args=() skip=0
for a; do
  if ((skip)); then skip=0; continue; fi
  case "$a" in -o) skip=1 ;; -*) ;; *) args+=("$a") ;; esac
done
'''
STUBS = {
    "apt-cache": ARGS + r'''
[[ "${args[0]}" == policy ]] || exit 100
for name in "${args[@]:1}"; do
  echo "$name:"
  echo "  Installed: $(cat "$STUB/installed/$name" 2>/dev/null || echo '(none)')"
  echo "  Candidate: $(cat "$STUB/candidate/$name" 2>/dev/null || echo '(none)')"
done
''',
    "apt-get": ARGS + r'''
case "${args[0]}" in
  update) ;;
  install)
    for a in "${args[@]:1}"; do
      name="${a%%=*}"
      if [[ "$a" == *=* ]]; then version="${a#*=}"; else version="$(cat "$STUB/candidate/$name")"; fi
      echo "$version" > "$STUB/installed/$name"
    done
    ;;
  download)
    for a in "${args[@]:1}"; do
      name="${a%%=*}" version="${a#*=}" tree="$(mktemp -d)"
      mkdir -p "$tree/DEBIAN" "$tree/bin" "$tree/usr/share/ca-certificates/mozilla"
      printf 'Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: stub <stub@example.invalid>\nDescription: stub\n' \
        "$name" "$version" > "$tree/DEBIAN/control"
      case "$name" in
        busybox-static) printf '#!/bin/sh\n' > "$tree/bin/busybox" ;;
        ca-certificates) echo "a certificate" > "$tree/usr/share/ca-certificates/mozilla/stub.crt" ;;
      esac
      dpkg-deb --root-owner-group -Zgzip -b "$tree" "${name}_${version/:/%3a}_amd64.deb" >/dev/null
      rm -rf "$tree"
    done
    ;;
  *) exit 100 ;;
esac
''',
    "dpkg-query": r'''
echo "dpkg-query $*" >> "$STUB/calls"
name="${*: -1}"
[[ -f "$STUB/installed/$name" ]] || { echo "dpkg-query: no packages found matching $name" >&2; exit 1; }
printf 'ii %s' "$(cat "$STUB/installed/$name")"
''',
    "dpkg": r'''
[[ "$1" == --compare-versions ]] || { echo "dpkg $*" >> "$STUB/calls"; exit 100; }
exec "$REAL_DPKG" "$@"
''',
    "id": r'''
[[ "$*" == -u ]] && echo 0
''',
}

# A build newer than any version tools.sh names, inside chromium's range.
NEWER = "187.0.9999.1-1~deb12u3"


@unittest.skipUnless(shutil.which("dpkg") and shutil.which("dpkg-deb"), "needs dpkg to compare versions")
class DebianPackagesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.stub = os.path.join(self.dir, "stub")
        self.tools = os.path.join(self.dir, "tools")
        bin_dir = os.path.join(self.dir, "bin")
        for folder in ("candidate", "installed"):
            os.makedirs(os.path.join(self.stub, folder))
        os.makedirs(bin_dir)
        for name, body in STUBS.items():
            path = os.path.join(bin_dir, name)
            with open(path, "w") as f:
                f.write("#!/usr/bin/env bash\nset -euo pipefail\n" + body)
            os.chmod(path, 0o755)
        self.env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"], STUB=self.stub,
                        REAL_DPKG=shutil.which("dpkg"), PASSKEY_TOOLS_DIR=self.tools)

    def offer(self, name, version):
        with open(os.path.join(self.stub, "candidate", name), "w") as f:
            f.write(version + "\n")

    def install(self, name, version):
        with open(os.path.join(self.stub, "installed", name), "w") as f:
            f.write(version + "\n")

    def calls(self, command):
        try:
            with open(os.path.join(self.stub, "calls")) as f:
                return [line.split(" ", 1)[1].strip() for line in f if line.split(" ", 1)[0] == command]
        except FileNotFoundError:
            return []

    def run_tools(self, *args):
        return subprocess.run(["bash", TOOLS, *args], env=self.env, capture_output=True, text=True, timeout=120)

    def test_installs_the_archives_build_newer_than_any_the_script_names(self):
        with open(TOOLS) as f:
            self.assertNotIn("187.", f.read())
        self.offer("chromium", NEWER)
        done = self.run_tools("chromium")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), "/usr/bin/chromium")
        apt_get = self.calls("apt-get")
        self.assertEqual(apt_get[0], "update -q")
        self.assertEqual(len(apt_get), 2, apt_get)
        self.assertTrue(apt_get[1].startswith("install "), apt_get)
        self.assertEqual(apt_get[1].split()[-1], f"chromium={NEWER}")
        self.assertIn(f"tools: chromium {NEWER} (Debian 12, wanted >= 150 < 200)", done.stderr)
        with open(os.path.join(self.tools, "debian-packages")) as f:
            self.assertEqual(f.read(), f"chromium {NEWER}\n")

    def test_a_build_below_the_range_is_refused_by_name_version_and_range(self):
        self.offer("chromium", "149.0.7000.1-1~deb12u1")
        done = self.run_tools("chromium")
        self.assertEqual(done.returncode, 1)
        self.assertIn("chromium 149.0.7000.1-1~deb12u1", done.stderr)
        self.assertIn(">= 150 < 200", done.stderr)
        self.assertEqual(self.calls("apt-get"), ["update -q"])

    def test_installed_in_range_touches_no_apt(self):
        self.install("docker.io", "20.10.99+dfsg1-1+deb12u9")
        self.offer("docker.io", "20.10.100+dfsg1-1+deb12u10")
        for _ in range(2):
            done = self.run_tools("docker")
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stdout.strip(), "/usr/sbin/dockerd")
        self.assertEqual(self.calls("apt-get"), [])
        self.assertEqual(self.calls("apt-cache"), [])
        # Said once, when first seen.
        self.assertEqual(done.stderr, "")

    def test_installed_below_the_range_is_upgraded_to_the_archives_build(self):
        self.install("qemu-user-static", "1:5.2+dfsg-11+deb11u3")
        self.offer("qemu-user-static", "1:7.2+dfsg-7+deb12u99")
        done = self.run_tools("qemu")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(self.calls("apt-get")[-1].split()[-1], "qemu-user-static=1:7.2+dfsg-7+deb12u99")
        self.assertIn("tools: qemu-user-static 1:7.2+dfsg-7+deb12u99 (Debian 12, wanted >= 1:7.2 < 1:8)", done.stderr)

    def test_installed_above_the_range_is_refused(self):
        self.install("docker.io", "26.1.5+dfsg1-9")
        done = self.run_tools("docker")
        self.assertEqual(done.returncode, 1)
        self.assertIn("docker.io 26.1.5+dfsg1-9", done.stderr)
        self.assertIn(">= 20.10 < 21", done.stderr)
        self.assertEqual(self.calls("apt-get"), [])

    def offer_sam_base(self, libc6):
        self.offer("libc6", libc6)
        self.offer("libgcc-s1", "12.2.0-14+deb12u7")
        self.offer("busybox-static", "1:1.35.0-4+deb12u5")
        self.offer("ca-certificates", "20260101~deb12u1")

    def test_the_base_image_is_keyed_on_the_builds_it_fetched(self):
        self.offer_sam_base("2.36-9+deb12u99")
        first = self.run_tools("sam-base", "x86_64")
        self.assertEqual(first.returncode, 0, first.stderr)
        base = first.stdout.strip()
        self.assertTrue(os.path.isfile(os.path.join(base, ".done")))
        self.assertTrue(os.path.isfile(os.path.join(base, "rootfs", "etc", "ssl", "certs", "ca-certificates.crt")))
        with open(os.path.join(base, "versions")) as f:
            self.assertIn("libc6=2.36-9+deb12u99\n", f.read())
        downloads = [call for call in self.calls("apt-get") if " download " in call]
        self.assertEqual(len(downloads), 1)
        self.assertTrue(downloads[0].endswith(" download libc6=2.36-9+deb12u99 libgcc-s1=12.2.0-14+deb12u7 "
                                              "busybox-static=1:1.35.0-4+deb12u5 ca-certificates=20260101~deb12u1"))

        # Built and in range: reused without apt, under the same name.
        os.remove(os.path.join(self.stub, "calls"))
        again = self.run_tools("sam-base", "x86_64")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(again.stdout.strip(), base)
        self.assertEqual(self.calls("apt-get") + self.calls("apt-cache"), [])

        # Fetched afresh, another build makes another folder (and so another image label).
        os.remove(os.path.join(self.tools, "sam-base-x86_64.versions"))
        self.offer_sam_base("2.36-9+deb12u100")
        newer = self.run_tools("sam-base", "x86_64")
        self.assertEqual(newer.returncode, 0, newer.stderr)
        self.assertNotEqual(newer.stdout.strip(), base)

    def test_a_base_image_package_outside_its_range_is_refused(self):
        self.offer_sam_base("2.37-1")
        done = self.run_tools("sam-base", "x86_64")
        self.assertEqual(done.returncode, 1)
        self.assertIn("libc6 '2.37-1'", done.stderr)
        self.assertIn(">= 2.36 < 2.37", done.stderr)
        self.assertEqual([call for call in self.calls("apt-get") if " download " in call], [])


if __name__ == "__main__":
    unittest.main()
