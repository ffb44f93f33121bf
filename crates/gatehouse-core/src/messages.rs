//! Outgoing messages: verification codes, temporary passwords, reset codes. Sent by SMTP when
//! configured (email only); otherwise, and for SMS, appended as one JSON line to the outbox
//! file so a developer can always find the code.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_aws(self) -> &'static str {
        match self {
            Channel::Email => "EMAIL",
            Channel::Sms => "SMS",
        }
    }
}

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    SignUpCode,
    ForgotPasswordCode,
    VerifyAttributeCode,
    TemporaryPassword,
    MfaCode,
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub time: String,
    #[serde(rename = "poolId")]
    pub pool_id: String,
    pub username: String,
    pub channel: Channel,
    pub destination: String,
    pub kind: MessageKind,
    /// The code or temporary password (the outbox exists so developers can read it).
    pub code: String,
    pub subject: String,
    pub body: String,
}

#[async_trait]
pub trait Messenger: Send + Sync {
    async fn send(&self, message: &Message) -> Result<()>;
}

/// Appends messages to `<data-dir>/outbox.jsonl`.
pub struct Outbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Outbox {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: Mutex::new(()),
        }
    }
}

#[async_trait]
impl Messenger for Outbox {
    async fn send(&self, message: &Message) -> Result<()> {
        let mut line = serde_json::to_vec(message).map_err(|e| Error::Internal(e.to_string()))?;
        line.push(b'\n');
        let _guard = self.lock.lock().await;
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| Error::CodeDeliveryFailure(format!("outbox: {e}")))?;
        f.write_all(&line)
            .await
            .map_err(|e| Error::CodeDeliveryFailure(format!("outbox: {e}")))?;
        f.flush()
            .await
            .map_err(|e| Error::CodeDeliveryFailure(format!("outbox: {e}")))?;
        // The outbox is for developers: the log says where to look, never the code itself.
        tracing::info!(
            pool_id = %message.pool_id,
            username = %message.username,
            channel = ?message.channel,
            kind = ?message.kind,
            outbox = %self.path.display(),
            "message written to the outbox"
        );
        Ok(())
    }
}

/// Email through an SMTP server; SMS still goes to the outbox.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    sms: Outbox,
}

impl Smtp {
    /// `url` is `smtp://host:port` (plain; STARTTLS and TLS need a relay in front for now).
    pub fn new(url: &str, from: &str, sms_outbox: PathBuf) -> Result<Self> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| Error::invalid(format!("SMTP URL must start with smtp://: {url}")))?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>()
                    .map_err(|_| Error::invalid(format!("bad SMTP port in {url}")))?,
            ),
            None => (rest.trim_end_matches('/').to_string(), 25),
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| Error::invalid(format!("bad SMTP from address {from}: {e}")))?;
        Ok(Self {
            transport,
            from,
            sms: Outbox::new(sms_outbox),
        })
    }
}

#[async_trait]
impl Messenger for Smtp {
    async fn send(&self, message: &Message) -> Result<()> {
        if message.channel == Channel::Sms {
            return self.sms.send(message).await;
        }
        let to = message
            .destination
            .parse::<Mailbox>()
            .map_err(|e| Error::CodeDeliveryFailure(format!("bad destination: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|e| Error::CodeDeliveryFailure(format!("building email: {e}")))?;
        self.transport
            .send(email)
            .await
            .map_err(|e| Error::CodeDeliveryFailure(format!("SMTP: {e}")))?;
        tracing::info!(pool_id = %message.pool_id, username = %message.username, kind = ?message.kind, "email sent");
        Ok(())
    }
}

/// `t***@e***` style masking, as CodeDeliveryDetails.Destination shows it.
pub fn mask_destination(channel: Channel, destination: &str) -> String {
    match channel {
        Channel::Email => match destination.split_once('@') {
            Some((local, domain)) => format!(
                "{}***@{}***",
                local.chars().next().unwrap_or('*'),
                domain.chars().next().unwrap_or('*')
            ),
            None => "***".into(),
        },
        Channel::Sms => {
            let tail: String = destination
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("+*******{tail}")
        }
    }
}
