//! One simulated Lambda instance: AWS's runtime interface emulator with a function behind it.
//! The emulator serves one invocation at a time (an overlapping one crashes it), so
//! concurrency means one instance per concurrent call, as on Lambda.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpStream;

use crate::http::{self, Conn};
use crate::procs;

pub const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

pub struct Instance {
    rie: Child,
    pub port: u16,
    conn: Option<Conn>,
    split: Option<TcpStream>,
}

impl Instance {
    /// Starts `bootstrap` under the emulator at `rie` on `port` (and `port + 1` for the
    /// runtime API); waits until the emulator listens.
    pub async fn start(rie: &str, bootstrap: &str, port: u16) -> Self {
        Self::start_logged(rie, bootstrap, port, None).await
    }

    /// The same, with the emulator's output (its INIT and REPORT lines, the function's logs)
    /// written to `log`.
    pub async fn start_logged(rie: &str, bootstrap: &str, port: u16, log: Option<&std::path::Path>) -> Self {
        // Otherwise an emulator left by a killed run would answer in place of this one, which
        // exits for want of the port.
        for p in [port, port + 1] {
            assert!(
                TcpStream::connect(("127.0.0.1", p)).await.is_err(),
                "port {p} is taken by another process"
            );
        }
        // The emulator logs to stderr (INIT REPORT among it), the function to stdout.
        let output = log.map(|path| std::fs::File::create(path).expect("the emulator's log"));
        let child = Command::new(rie)
            .args(["--runtime-interface-emulator-address", &format!("127.0.0.1:{port}")])
            .args(["--runtime-api-address", &format!("127.0.0.1:{}", port + 1)])
            .arg(bootstrap)
            .stdout(
                output.as_ref().map_or(Stdio::null(), |f| f.try_clone().expect("the emulator's log").into()),
            )
            .stderr(output.map_or(Stdio::null(), Stdio::from))
            .spawn()
            .expect("start aws-lambda-rie");
        let instance = Self { rie: child, port, conn: None, split: None };
        for _ in 0..2500 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("aws-lambda-rie did not listen on {port}");
    }

    /// Invokes the function with an API Gateway event; the statusCode it answered.
    pub async fn invoke(&mut self, event: &[u8]) -> u16 {
        if self.conn.is_none() {
            self.conn = Some(Conn::open(self.port).await);
        }
        let response = self.conn.as_mut().unwrap().call(&invocation(self.port, event)).await;
        status_code(&response.body)
    }

    /// The same, from a client that writes head and body separately without TCP_NODELAY.
    pub async fn invoke_in_two_writes(&mut self, event: &[u8]) -> u16 {
        let head = http::head(self.port, "POST", INVOKE_PATH, "", event.len());
        let response = Conn::call_in_two_writes(self.port, &head, event, &mut self.split).await;
        status_code(&response.body)
    }

    pub fn rie_pid(&self) -> u32 {
        self.rie.id()
    }

    /// The function's process: the emulator's child running the bootstrap (there after the
    /// first invocation).
    pub fn function_pid(&self) -> u32 {
        procs::children(self.rie.id()).into_iter().next().expect("the function's process")
    }
}

/// Dropping an instance stops its emulator (and with it the function), after a failed
/// assertion too: no emulator outlives the bench.
impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.rie.kill();
        let _ = self.rie.wait();
    }
}

/// The emulator's invoke request for `event`, to the emulator on `port`.
pub fn invocation(port: u16, event: &[u8]) -> Vec<u8> {
    http::request(port, "POST", INVOKE_PATH, "", event)
}

/// The statusCode of a function's API Gateway answer (0 when it is none).
pub fn status_code(body: &[u8]) -> u16 {
    let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    answer["statusCode"].as_u64().unwrap_or(0) as u16
}
