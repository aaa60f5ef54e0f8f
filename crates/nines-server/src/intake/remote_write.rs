//! Prometheus remote write 1.0: the protobuf messages (written by hand, only the fields nines
//! reads) and the decoder of a snappy-compressed request body.
//!
//! Exemplars and native histograms (fields 3 and 4 of `TimeSeries`) are not declared, so prost
//! skips them; nines counts classic counters and `_bucket`/`_count` series only.

use bytes::Bytes;
use prost::Message;

use super::IntakeError;

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`: labels include `__name__`; samples are oldest first.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`. The protobuf fields are strings; they are declared as bytes (the same
/// encoding) so that decoding shares the request buffer instead of allocating two strings per
/// label, which was most of the decoding time. Nothing checks that they are UTF-8 until a
/// label is used: matching treats a value that is not UTF-8 as matching nothing, and a matched
/// series with such a label is invalid.
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Label {
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

impl Label {
    pub fn new(name: &str, value: &str) -> Label {
        Label {
            name: Bytes::copy_from_slice(name.as_bytes()),
            value: Bytes::copy_from_slice(value.as_bytes()),
        }
    }

    /// A label from owned strings, without copying them.
    pub fn from_strings(name: String, value: String) -> Label {
        Label {
            name: Bytes::from(name),
            value: Bytes::from(value),
        }
    }

    pub fn name_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.name).ok()
    }

    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }
}

/// `prometheus.Sample`: the timestamp is in milliseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`; `type` is the `MetricType` enum (1 is a counter).
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Decodes a remote-write body: a snappy block (not the framed format) holding a
/// `WriteRequest`. The uncompressed length the block declares is checked against
/// `max_decompressed` before anything is allocated.
pub fn decode(body: &[u8], max_decompressed: usize) -> Result<WriteRequest, IntakeError> {
    let declared =
        snap::raw::decompress_len(body).map_err(|err| IntakeError::Snappy(err.to_string()))?;
    if declared > max_decompressed {
        return Err(IntakeError::TooLarge {
            what: "decompressed",
            size: declared,
            limit: max_decompressed,
        });
    }
    let mut decompressed = vec![0; declared];
    let written = snap::raw::Decoder::new()
        .decompress(body, &mut decompressed)
        .map_err(|err| IntakeError::Snappy(err.to_string()))?;
    decompressed.truncate(written);
    WriteRequest::decode(Bytes::from(decompressed)).map_err(|err| IntakeError::Protobuf {
        message: "remote write WriteRequest",
        detail: err.to_string(),
    })
}

/// Encodes a request the way Prometheus sends it (for tests, benchmarks and tools).
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    let protobuf = request.encode_to_vec();
    // Compressing a byte slice only fails when it is larger than snappy's 4 GiB frame limit.
    snap::raw::Encoder::new()
        .compress_vec(&protobuf)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn series(labels: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(name, value)| Label::new(name, value))
                .collect(),
            samples: samples
                .iter()
                .map(|&(value, timestamp)| Sample { value, timestamp })
                .collect(),
        }
    }

    fn request() -> WriteRequest {
        WriteRequest {
            timeseries: vec![
                series(
                    &[
                        ("__name__", "http_requests_total"),
                        ("code", "200"),
                        ("job", "api"),
                    ],
                    &[(10.0, 1_000), (12.0, 16_000)],
                ),
                series(&[("__name__", "up"), ("job", "api")], &[(1.0, 1_000)]),
            ],
            metadata: vec![MetricMetadata {
                r#type: 1,
                metric_family_name: "http_requests_total".to_string(),
                help: "requests".to_string(),
                unit: String::new(),
            }],
        }
    }

    /// Decodes `body` with `limit` and renders the outcome: the error message, or the number of
    /// series and samples.
    fn check(body: &[u8], limit: usize, expected: &str) {
        let actual = match decode(body, limit) {
            Ok(request) => format!(
                "ok: {} series, {} samples",
                request.timeseries.len(),
                request
                    .timeseries
                    .iter()
                    .map(|series| series.samples.len())
                    .sum::<usize>()
            ),
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(actual, expected, "body {body:?}");
    }

    #[test]
    fn decodes_what_prometheus_sends() {
        let request = request();
        let body = encode(&request);
        assert_eq!(decode(&body, 1 << 20), Ok(request));
        check(&body, 1 << 20, "ok: 2 series, 3 samples");
        check(
            &encode(&WriteRequest::default()),
            0,
            "ok: 0 series, 0 samples",
        );
    }

    #[test]
    fn skips_fields_it_does_not_declare() {
        // A TimeSeries with an exemplar (field 3) and a native histogram (field 4).
        let mut protobuf = Vec::new();
        let mut timeseries = series(&[("__name__", "x")], &[(1.0, 5)]).encode_to_vec();
        timeseries.extend_from_slice(&[0x1a, 0x02, 0x08, 0x01, 0x22, 0x00]);
        protobuf.push(0x0a);
        prost::encoding::encode_varint(timeseries.len() as u64, &mut protobuf);
        protobuf.extend_from_slice(&timeseries);
        let body = snap::raw::Encoder::new().compress_vec(&protobuf).unwrap();
        check(&body, 1 << 20, "ok: 1 series, 1 samples");
    }

    #[test]
    fn names_what_is_wrong_with_a_body() {
        let body = encode(&request());
        let n_protobuf = request().encode_to_vec().len();

        check(
            &body,
            n_protobuf - 1,
            &format!(
                "error: body too large: {n_protobuf} bytes decompressed exceed the limit of {} bytes",
                n_protobuf - 1
            ),
        );
        check(
            b"",
            100,
            "error: corrupt snappy block: snappy: corrupt input (empty)",
        );
        // The framed format (what `snap::write` produces) is not the block format.
        check(
            b"\xff\x06\x00\x00sNaPpY",
            1 << 20,
            "error: corrupt snappy block: snappy: corrupt input (expected valid offset but got offset 1884315982; dst position: 1)",
        );
        let mut cut = body.clone();
        cut.truncate(body.len() - 3);
        check(
            &cut,
            1 << 20,
            "error: corrupt snappy block: snappy: corrupt input (expected literal read of length 10; remaining src: 7; remaining dst: 10)",
        );

        // Valid snappy around a protobuf cut in the middle of a label.
        let protobuf = request().encode_to_vec();
        let truncated = snap::raw::Encoder::new()
            .compress_vec(&protobuf[..20])
            .unwrap();
        check(
            &truncated,
            1 << 20,
            "error: truncated or invalid remote write WriteRequest protobuf: failed to decode Protobuf message: WriteRequest.timeseries: buffer underflow",
        );
        let garbage = snap::raw::Encoder::new()
            .compress_vec(b"\x0a\x03\xff\xff\xff")
            .unwrap();
        check(
            &garbage,
            1 << 20,
            "error: truncated or invalid remote write WriteRequest protobuf: failed to decode Protobuf message: WriteRequest.timeseries: invalid varint",
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes, 1 << 16);
            let compressed = snap::raw::Encoder::new().compress_vec(&bytes).unwrap();
            let _ = decode(&compressed, 1 << 16);
        }
    }
}
