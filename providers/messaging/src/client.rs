//! The NATS side of a binding: connecting, subscribing, publishing and
//! request/reply, each within its timeout and with errors that name the
//! subject and the server.

use crate::MessagingError;
use async_nats::{Client, ConnectOptions, Message, RequestErrorKind, Subscriber};
use futures::StreamExt;
use std::time::Duration;
use trellis_codec::messaging::{BrokerMessage, RequestMessage};

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The `Request` timeout when the actor asks for 0.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(2000);
/// How long the client may take to accept a message to publish.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to `url` (shown as `shown_url` in errors) within [`CONNECT_TIMEOUT`].
pub(crate) async fn connect(url: &str, shown_url: &str) -> Result<Client, MessagingError> {
    let connect_error = |message: String| MessagingError::Connect {
        url: shown_url.to_owned(),
        message,
    };
    let connecting = ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(url);
    // The option bounds each attempt; this bounds name resolution and all.
    match tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_millis(500), connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(connect_error(e.to_string())),
        Err(_) => Err(connect_error(format!(
            "no connection within {} ms",
            CONNECT_TIMEOUT.as_millis()
        ))),
    }
}

/// Subscribes and waits until the server has registered the subscription.
pub(crate) async fn subscribe(
    client: &Client,
    subject: &str,
    queue_group: Option<&str>,
) -> Result<Subscriber, String> {
    let subscriber = match queue_group {
        Some(group) => client
            .queue_subscribe(subject.to_owned(), group.to_owned())
            .await
            .map_err(|e| e.to_string())?,
        None => client
            .subscribe(subject.to_owned())
            .await
            .map_err(|e| e.to_string())?,
    };
    round_trip(client).await?;
    Ok(subscriber)
}

/// A message to ourselves through the server: when it is back, the server
/// has processed everything this connection sent before it.
async fn round_trip(client: &Client) -> Result<(), String> {
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| e.to_string())?;
    client
        .publish(inbox, Vec::new().into())
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(CONNECT_TIMEOUT, echo.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the connection closed".into()),
        Err(_) => Err(format!(
            "the server did not confirm the subscription within {} ms",
            CONNECT_TIMEOUT.as_millis()
        )),
    }
}

/// The codec's form of a message that arrived.
pub(crate) fn broker_message(message: Message) -> BrokerMessage {
    BrokerMessage {
        subject: message.subject.to_string(),
        reply_to: message.reply.map(|r| r.to_string()).unwrap_or_default(),
        body: message.payload.to_vec(),
    }
}

/// Publishes `message`, with its reply subject when it has one.
pub(crate) async fn publish(client: &Client, message: BrokerMessage) -> Result<(), MessagingError> {
    let BrokerMessage {
        subject,
        reply_to,
        body,
    } = message;
    let publishing = async {
        if reply_to.is_empty() {
            client.publish(subject.clone(), body.into()).await
        } else {
            client
                .publish_with_reply(subject.clone(), reply_to, body.into())
                .await
        }
    };
    match tokio::time::timeout(PUBLISH_TIMEOUT, publishing).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(MessagingError::Publish {
            subject,
            message: e.to_string(),
        }),
        Err(_) => Err(MessagingError::Publish {
            subject,
            message: format!(
                "the client did not take the message within {} ms (is NATS reachable?)",
                PUBLISH_TIMEOUT.as_millis()
            ),
        }),
    }
}

/// Sends `request` and waits for the first reply within its timeout.
pub(crate) async fn request_reply(
    client: &Client,
    request: RequestMessage,
) -> Result<BrokerMessage, MessagingError> {
    let timeout = match request.timeout {
        0 => DEFAULT_REQUEST_TIMEOUT,
        ms => Duration::from_millis(u64::try_from(ms).map_err(|_| MessagingError::BadTimeout(ms))?),
    };
    let subject = request.subject;
    let nats_request = async_nats::Request::new()
        .payload(request.body.into())
        .timeout(Some(timeout));
    // The client's own timeout covers the wait for the reply; this one also
    // covers a client that cannot send (NATS unreachable).
    let sending = client.send_request(subject.clone(), nats_request);
    let timed_out = || MessagingError::Timeout {
        subject: subject.clone(),
        millis: timeout.as_millis(),
    };
    match tokio::time::timeout(timeout + Duration::from_millis(100), sending).await {
        Ok(Ok(reply)) => Ok(broker_message(reply)),
        Ok(Err(e)) => Err(match e.kind() {
            RequestErrorKind::NoResponders => MessagingError::NoResponders(subject),
            RequestErrorKind::TimedOut => timed_out(),
            _ => MessagingError::Request {
                subject: subject.clone(),
                message: e.to_string(),
            },
        }),
        Err(_) => Err(timed_out()),
    }
}
