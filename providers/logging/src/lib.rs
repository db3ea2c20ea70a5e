//! The `wascc:logging` capability provider.
//!
//! Actors call `WriteLog` with a [`WriteLogRequest`] `{level, body}`; the line
//! becomes a `tracing` event at that level, with the calling actor's public key
//! in the `actor` field and the body as the message. The SDK forwards it into
//! the host's log.
//!
//! Levels are waSCC's: 1 error, 2 warn, 3 info, 4 debug, 5 trace; 0 (off)
//! drops the line, and a level above 5 is written at trace, the most detailed.
//! The reply is empty. Binding values are ignored: any actor may be bound.

use trellis_codec::decode;
use trellis_codec::logging::{level, WriteLogRequest, CAPABILITY, OP_WRITE_LOG};
use trellis_provider_sdk::{Call, Descriptor, HostHandle, Provider, ProviderError};

/// The root module the host loads. Private: the items `export_provider!`
/// makes have no docs of their own, and the host finds them by symbol.
mod entry {
    trellis_provider_sdk::export_provider!(super::new_provider);
}

/// Creates the provider for the host.
fn new_provider(_host: HostHandle) -> Result<LoggingProvider, ProviderError> {
    Ok(LoggingProvider)
}

/// The provider: writes actors' log lines.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoggingProvider;

impl LoggingProvider {
    /// Writes one actor's line at the line's level.
    pub fn write(actor: &str, line: &WriteLogRequest) {
        let body = line.body.as_str();
        match line.level {
            level::OFF => {}
            level::ERROR => tracing::error!(actor = %actor, "{body}"),
            level::WARN => tracing::warn!(actor = %actor, "{body}"),
            level::INFO => tracing::info!(actor = %actor, "{body}"),
            level::DEBUG => tracing::debug!(actor = %actor, "{body}"),
            _ => tracing::trace!(actor = %actor, "{body}"),
        }
    }
}

impl Provider for LoggingProvider {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(CAPABILITY, "Logging", env!("CARGO_PKG_VERSION"))
            .with_operations([OP_WRITE_LOG])
    }

    async fn handle_call(&self, call: Call) -> Result<Vec<u8>, ProviderError> {
        match call.operation.as_str() {
            OP_WRITE_LOG => {
                let line: WriteLogRequest = decode(&call.payload)?;
                Self::write(&call.actor, &line);
                Ok(Vec::new())
            }
            other => Err(ProviderError::unknown_operation(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use trellis_codec::encode;

    /// Collects what a `fmt` subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn call(operation: &str, payload: Vec<u8>) -> Call {
        Call {
            actor: "MACTOR".into(),
            operation: operation.into(),
            payload,
        }
    }

    fn write_log(level: u32, body: &str) -> Call {
        call(
            OP_WRITE_LOG,
            encode(&WriteLogRequest {
                level,
                body: body.into(),
            })
            .unwrap(),
        )
    }

    /// Runs `f` with a subscriber that records everything, and returns what it wrote.
    fn captured(f: impl FnOnce()) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        out.text()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn writes_at_the_requested_level() {
        let text = captured(|| {
            for (level, body) in [
                (1, "one"),
                (2, "two"),
                (3, "three"),
                (4, "four"),
                (5, "five"),
                (0, "never"),
                (9, "nine"),
            ] {
                let reply = block_on(LoggingProvider.handle_call(write_log(level, body))).unwrap();
                assert!(reply.is_empty());
            }
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        for (line, (level, body)) in lines.iter().zip([
            ("ERROR", "one"),
            ("WARN", "two"),
            ("INFO", "three"),
            ("DEBUG", "four"),
            ("TRACE", "five"),
            ("TRACE", "nine"),
        ]) {
            assert!(line.contains(level), "{line}");
            assert!(line.contains(body), "{line}");
            assert!(line.contains("actor=MACTOR"), "{line}");
        }
        assert!(!text.contains("never"));
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        let e = block_on(LoggingProvider.handle_call(call("Shout", Vec::new()))).unwrap_err();
        assert_eq!(e, ProviderError::unknown_operation("Shout"));
        let e = block_on(LoggingProvider.handle_call(call(OP_WRITE_LOG, vec![0xc1]))).unwrap_err();
        assert!(e.message().contains("WriteLogRequest"), "{e}");
    }

    #[test]
    fn describes_itself() {
        let d = LoggingProvider.descriptor();
        assert_eq!(d.capability_id, "wascc:logging");
        assert_eq!(d.name, "Logging");
        assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(d.operations, ["WriteLog"]);
    }
}
