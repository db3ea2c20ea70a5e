//! Forwards the provider's `tracing` events into the host's log.
//!
//! The library has its own copy of `tracing`, with its own (empty) global
//! dispatcher: without this, a provider's log lines would vanish. The SDK
//! installs a small subscriber that formats each event and hands it to the
//! host, which records it under the provider's target with its own filters.

use crate::ffi::FfiDispatcherBox;
use abi_stable::std_types::RStr;
use std::fmt::Write;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Installs the forwarder once per library; later calls keep the first.
pub(crate) fn install(dispatcher: FfiDispatcherBox, max_level: u8) {
    let forwarder = Forwarder {
        dispatcher,
        max_level,
    };
    // A second instance of the same library finds the forwarder installed:
    // that is fine, both talk to the same host.
    if tracing::subscriber::set_global_default(forwarder).is_ok() {
        // The library has its own copy of std and so its own panic hook, which
        // would print to the host's stderr: send panics to the host's log.
        std::panic::set_hook(Box::new(|info| tracing::error!("{info}")));
    }
}

struct Forwarder {
    dispatcher: FfiDispatcherBox,
    max_level: u8,
}

fn level_number(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

impl Subscriber for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        level_number(metadata.level()) <= self.max_level
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let metadata = event.metadata();
        self.dispatcher.log(
            level_number(metadata.level()),
            RStr::from_str(metadata.target()),
            RStr::from_str(&line.0),
        );
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// `message key=value key=value`
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = if field.name() == "message" {
            write!(self.0, "{value:?}")
        } else {
            write!(self.0, "{}={value:?}", field.name())
        };
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}
