//! The real binary as a child process, configured with the same variables as the in-process
//! app ([`super::test_vars`]), for what only a whole process shows: a kill, a signal, what it
//! sends at exit.

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{SECRET, eventually};

/// The bot running as a child process; killed when dropped.
pub struct BotProcess {
    child: Child,
    address: String,
}

impl BotProcess {
    /// Starts the real binary with `vars` (`PORT` among them) and waits until it is ready.
    pub async fn start(vars: &HashMap<String, String>) -> Self {
        excursobot::install_tls_provider();
        let child = Command::new(env!("CARGO_BIN_EXE_excursobot"))
            .env_clear()
            .envs(vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the bot starts");
        let bot = Self {
            child,
            address: format!("http://127.0.0.1:{}", vars["PORT"]),
        };
        let ready = eventually(
            || async {
                let readyz = reqwest::get(format!("{}/readyz", bot.address)).await;
                readyz.is_ok_and(|answer| answer.status() == 200)
            },
            |ready| *ready,
        )
        .await;
        assert!(ready, "the bot did not become ready");
        bot
    }

    /// POSTs `update` to the webhook; the status it got.
    pub async fn post_update(&self, update: &serde_json::Value) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/webhook", self.address))
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .json(update)
            .send()
            .await
            .expect("webhook answers")
            .status()
            .as_u16()
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the bot is gone");
    }

    /// SIGTERM, then waits (at most 20 s) for the orderly shutdown to end; its exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill only sends a signal to the child this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the bot did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port().to_string()
}
