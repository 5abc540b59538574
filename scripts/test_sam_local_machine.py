"""scripts/sam-local-machine.sh (what make sam-local changes on the machine) with stub commands
on PATH that record their arguments: the firewall rule guarding the stack on the bridge's
address is added on every engine path (DOCKER_HOST, the machine's engine, its own dockerd) and
removed at the end or by the next run after a kill; the br_netfilter switches its own dockerd
turns on are put back. Needs neither root nor Docker:
  python3 -B -m unittest discover -s scripts -p 'test_sam_local_machine.py'
"""
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
GATEWAY = "172.17.0.1"
GUARD = (f"INPUT -d {GATEWAY} -p tcp -m multiport --dports 18100,18105 ! -i docker0 "
         "-m addrtype ! --src-type LOCAL -j DROP")

STUBS = {
    "id": '[ "$1" = -u ] && echo "${STUB_UID:-0}"',
    "iptables": "",
    "iptables-save": r"printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n'",
    "ip": r"""case "$*" in
  *"addr show to"*) [ -n "$STUB_NO_BRIDGE" ] || echo "5: docker0    inet $6/16 brd 172.17.255.255 scope global docker0" ;;
  *"link show docker0"*) exit 1 ;;
esac""",
    # Its own engine answers once its dockerd has started, as a real one does.
    "docker": r"""if [ "$1" = info ] && [ "$DOCKER_HOST" = "unix://$RUN_DIR/docker.sock" ]; then
  until [ -e "$STUB_DOCKERD_UP" ]; do sleep 0.05; done
fi""",
    # What dockerd does to br_netfilter: loads it (its folder appears) and turns two switches on.
    "dockerd": r"""mkdir -p "$STUB_BRIDGE"
echo 1 > "$STUB_BRIDGE/bridge-nf-call-iptables"
echo 1 > "$STUB_BRIDGE/bridge-nf-call-ip6tables"
touch "$STUB_DOCKERD_UP"
exec sleep 60""",
    "modprobe": "",
}

# What sam-local.sh runs of the file, with the engine paths' variables from the test.
DRIVER = r"""set -euo pipefail
source "$SCRIPTS/sam-local-machine.sh"
MACHINE_SOCKET="$STUB_MACHINE_SOCKET" IP_FORWARD="$STUB_IP_FORWARD" BRIDGE_SYSCTLS="$STUB_BRIDGE"
for step in "$@"; do
  case "$step" in
    up) run_dir_up; engine_up; guard_stack 172.17.0.1 ;;
    down) undo_machine ;;
  esac
done
"""


class GuardOnEveryEnginePathTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp()
        self.calls = os.path.join(self.work, "calls.log")
        stubs = os.path.join(self.work, "bin")
        root = os.path.join(self.work, "root")
        os.makedirs(os.path.join(root, "scripts"))
        os.mkdir(stubs)
        for name, body in STUBS.items():
            self.write(os.path.join(stubs, name), f'#!/bin/sh\necho "{name} $*" >> "{self.calls}"\n{body}\n')
        # The scripts the machine file runs by path: tools.sh docker, stack.sh down.
        for name in ("tools.sh", "stack.sh"):
            self.write(os.path.join(root, "scripts", name), f'#!/bin/sh\necho "{name} $*" >> "{self.calls}"\n')
        self.driver = os.path.join(self.work, "driver.sh")
        self.write(self.driver, DRIVER)
        self.bridge = os.path.join(self.work, "bridge")
        os.mkdir(self.bridge)
        for name, value in (("bridge-nf-call-iptables", "0"), ("bridge-nf-call-ip6tables", "0"),
                            ("bridge-nf-call-arptables", "0")):
            self.write(os.path.join(self.bridge, name), value + "\n")
        self.ip_forward = os.path.join(self.work, "ip_forward")
        self.write(self.ip_forward, "0\n")
        self.run_dir = os.path.join(self.work, "run")
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        env.update(
            PATH=f"{stubs}:{os.environ['PATH']}", SCRIPTS=SCRIPTS, ROOT=root, RUN_DIR=self.run_dir,
            MARK=os.path.join(self.run_dir, ".passkey-sam-local"), TOOLS_DIR=os.path.join(self.work, "tools"),
            PASSKEY_STACK_DIR=os.path.join(self.work, "stack"),
            ENGINE_LOG=os.path.join(self.work, "stack", "dockerd.log"), DYNAMODB_PORT="18100",
            SES_PORT="18105", ARCH="x86_64", HOST_ARCH="x86_64", STUB_BRIDGE=self.bridge,
            STUB_IP_FORWARD=self.ip_forward, STUB_DOCKERD_UP=os.path.join(self.work, "dockerd-up"),
            STUB_MACHINE_SOCKET=os.path.join(self.work, "no-engine.sock"))
        self.env = env
        self.socket = None

    def tearDown(self):
        if self.socket:
            self.socket.close()
        # A run left "interrupted" by a test has its stub dockerd undone here.
        if os.path.exists(self.run_dir):
            self.machine("down")
        shutil.rmtree(self.work)

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)

    def machine(self, *steps, **env):
        return subprocess.run(["bash", self.driver, *steps], env={**self.env, **env}, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def recorded(self, prefix=""):
        if not os.path.exists(self.calls):
            return []
        with open(self.calls) as f:
            return [line.rstrip("\n") for line in f if line.startswith(prefix)]

    def guard_calls(self):
        return [line for line in self.recorded("iptables -") if " INPUT " in line]

    def machine_engine(self):
        path = os.path.join(self.work, "docker.sock")
        self.socket = socket.socket(socket.AF_UNIX)
        self.socket.bind(path)
        return {"STUB_MACHINE_SOCKET": path}

    def bridge_values(self):
        values = {}
        for name in sorted(os.listdir(self.bridge)):
            with open(os.path.join(self.bridge, name)) as f:
                values[name] = f.read().strip()
        return values

    def assert_guarded_then_released(self, done):
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(self.guard_calls(), [f"iptables -I {GUARD}", f"iptables -D {GUARD}"])
        self.assertFalse(os.path.exists(self.run_dir), "the run folder is removed")

    def test_an_engine_at_docker_host(self):
        done = self.machine("up", "down", DOCKER_HOST="unix:///elsewhere/docker.sock")
        self.assert_guarded_then_released(done)
        self.assertEqual(self.recorded("dockerd"), [])
        self.assertEqual(set(self.bridge_values().values()), {"0"})

    def test_the_machines_own_engine(self):
        done = self.machine("up", "down", **self.machine_engine())
        self.assert_guarded_then_released(done)
        self.assertIn(f"docker -H unix://{self.work}/docker.sock info", self.recorded("docker "))
        self.assertEqual(self.recorded("dockerd"), [])

    def test_its_own_dockerd_and_the_br_netfilter_switches_it_turned_on(self):
        before = self.bridge_values()
        done = self.machine("up")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(len(self.recorded("dockerd")), 1)
        self.assertEqual(self.bridge_values()["bridge-nf-call-iptables"], "1", "the stub dockerd ran")
        done = self.machine("down")
        self.assert_guarded_then_released(done)
        self.assertEqual(self.bridge_values(), before)
        self.assertIn("bridge-nf", done.stderr)

    def test_br_netfilter_that_was_not_loaded_is_unloaded_again(self):
        shutil.rmtree(self.bridge)
        done = self.machine("up", "down")
        self.assert_guarded_then_released(done)
        self.assertEqual(self.recorded("modprobe"), ["modprobe -r br_netfilter"])

    def test_a_killed_run_leaves_the_rule_to_the_next_which_removes_it_first(self):
        for engine in ({"DOCKER_HOST": "unix:///elsewhere/docker.sock"}, self.machine_engine(), {}):
            with self.subTest(engine=engine):
                if os.path.exists(self.calls):
                    os.unlink(self.calls)
                # "up" alone ends as a kill would: nothing undone.
                done = self.machine("up", **engine)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertEqual(self.guard_calls(), [f"iptables -I {GUARD}"])
                done = self.machine("up", "down", **engine)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertIn("undoing what an interrupted run left", done.stderr)
                self.assertEqual(self.guard_calls(), [f"iptables -I {GUARD}", f"iptables -D {GUARD}"] * 2)
                self.assertFalse(os.path.exists(self.run_dir))

    def test_without_root_nothing_is_changed(self):
        for engine in ({"DOCKER_HOST": "unix:///elsewhere/docker.sock"}, self.machine_engine(), {}):
            with self.subTest(engine=engine):
                done = self.machine("up", "down", STUB_UID="1000", **engine)
                self.assertEqual(done.returncode, 1)
                self.assertIn("needs root", done.stderr)
                self.assertEqual(self.recorded("iptables"), [])
                self.assertEqual(self.recorded("docker"), [])
                self.machine("down")

    def test_a_bridge_address_of_another_machine_is_refused(self):
        done = self.machine("up", DOCKER_HOST="tcp://build-host:2375", STUB_NO_BRIDGE="1")
        self.assertEqual(done.returncode, 1)
        self.assertIn("must run on this machine", done.stderr)
        self.assertEqual(self.recorded("iptables -I"), [])


if __name__ == "__main__":
    unittest.main()
