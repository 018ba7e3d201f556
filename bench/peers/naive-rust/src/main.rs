//! The hand-written peer of bench/peers: what a team writes by hand for sluice's job with
//! tokio, rdkafka and reqwest. Each event goes to every sink as a `join` of POSTs, retried
//! until accepted; a task per partition keeps up to --window events in flight and stores an
//! offset only once every event before it was accepted by every sink (at-least-once, like
//! sluice). librdkafka commits the stored offsets.
//!
//!   naive-forwarder --brokers B --topic T --group G --sink URL --sink URL --sink URL [--window 16]
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::StreamExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use tokio::sync::mpsc;

struct Args {
    brokers: String,
    topic: String,
    group: String,
    sinks: Vec<String>,
    window: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        brokers: String::new(),
        topic: String::new(),
        group: String::new(),
        sinks: Vec::new(),
        window: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} wants a value"));
        match flag.as_str() {
            "--brokers" => a.brokers = value,
            "--topic" => a.topic = value,
            "--group" => a.group = value,
            "--sink" => a.sinks.push(value),
            "--window" => a.window = value.parse().expect("--window wants a number"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(!a.brokers.is_empty() && !a.topic.is_empty() && !a.group.is_empty());
    assert!(!a.sinks.is_empty(), "at least one --sink");
    a
}

// One POST, retried until the sink accepts it; 4xx other than 429 is given up (logged).
async fn post(client: &reqwest::Client, url: &str, m: &OwnedMessage, body: Bytes) {
    let key = format!("\"{}/{}/{}\"", m.topic(), m.partition(), m.offset());
    let mut attempt = 1u32;
    loop {
        let sent = client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &key)
            .header("Sluice-Source-Topic", m.topic())
            .header("Sluice-Source-Partition", m.partition().to_string())
            .header("Sluice-Source-Offset", m.offset().to_string())
            .header("Sluice-Attempt", attempt.to_string())
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                eprintln!("{url}: {} for {key}, given up", r.status());
                return;
            }
            Ok(_) | Err(_) => {}
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn deliver(client: reqwest::Client, sinks: Arc<Vec<String>>, m: OwnedMessage) -> OwnedMessage {
    let body = Bytes::copy_from_slice(m.payload().unwrap_or_default());
    futures::future::join_all(sinks.iter().map(|url| post(&client, url, &m, body.clone()))).await;
    m
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let consumer: Arc<StreamConsumer> = Arc::new(
        ClientConfig::new()
            .set("bootstrap.servers", &args.brokers)
            .set("group.id", &args.group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .create()
            .expect("consumer"),
    );
    consumer.subscribe(&[&args.topic]).expect("subscribe");
    let client = reqwest::Client::new();
    let sinks = Arc::new(args.sinks);
    let mut partitions: HashMap<i32, mpsc::Sender<OwnedMessage>> = HashMap::new();
    let mut stream = consumer.stream();
    while let Some(next) = stream.next().await {
        let m = match next {
            Ok(m) => m.detach(),
            Err(e) => {
                eprintln!("kafka: {e}");
                continue;
            }
        };
        let tx = partitions.entry(m.partition()).or_insert_with(|| {
            let (tx, rx) = mpsc::channel::<OwnedMessage>(args.window);
            let (client, sinks, consumer) = (client.clone(), sinks.clone(), consumer.clone());
            let window = args.window;
            tokio::spawn(async move {
                // `buffered` yields in order: an offset is stored only after all before it.
                let mut done = tokio_stream_from(rx)
                    .map(|m| deliver(client.clone(), sinks.clone(), m))
                    .buffered(window);
                while let Some(m) = done.next().await {
                    if let Err(e) = consumer.store_offset(m.topic(), m.partition(), m.offset()) {
                        eprintln!("store_offset: {e}");
                    }
                }
            });
            tx
        });
        if tx.send(m).await.is_err() {
            eprintln!("partition task ended");
        }
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
