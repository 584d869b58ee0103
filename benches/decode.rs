//! Decode throughput (MB/s) over large standard and historique streams, clean and with 5 %
//! of groups corrupted, and a clean historique stream of a pre-Linky meter (mode-2
//! checksums). Run: `cargo bench --bench decode`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tic_rec::tic::encode::{end_frame, push_group_with_rule, start_frame};
use tic_rec::tic::{ChecksumRule, Config, Decoder};

const STANDARD: &[(&str, Option<&str>, &str)] = &[
    ("ADSC", None, "064468368739"),
    ("VTIC", None, "02"),
    ("DATE", Some("H230301091834"), ""),
    ("NGTF", None, "      BASE      "),
    ("LTARF", None, "      BASE      "),
    ("EAST", None, "011887649"),
    ("EASF01", None, "011887649"),
    ("EASF02", None, "000000000"),
    ("EASF03", None, "000000000"),
    ("EASF04", None, "000000000"),
    ("EASF05", None, "000000000"),
    ("EASF06", None, "000000000"),
    ("EASF07", None, "000000000"),
    ("EASF08", None, "000000000"),
    ("EASF09", None, "000000000"),
    ("EASF10", None, "000000000"),
    ("EASD01", None, "011887649"),
    ("EASD02", None, "000000000"),
    ("EASD03", None, "000000000"),
    ("EASD04", None, "000000000"),
    ("IRMS1", None, "001"),
    ("URMS1", None, "230"),
    ("PREF", None, "04"),
    ("PCOUP", None, "04"),
    ("SINSTS", None, "00240"),
    ("SMAXSN", Some("H230301065253"), "01024"),
    ("SMAXSN-1", Some("H230228111814"), "00795"),
    ("CCASN", Some("H230301090000"), "00170"),
    ("CCASN-1", Some("H230301083000"), "00162"),
    ("UMOY1", Some("H230301091000"), "229"),
    ("STGE", None, "003A0001"),
    ("MSG1", None, "PAS DE          MESSAGE         "),
    ("PRM", None, "31051967533895"),
    ("RELAIS", None, "000"),
    ("NTARF", None, "01"),
    ("NJOURF", None, "00"),
    ("NJOURF+1", None, "00"),
    ("PJOURF+1", None, "00008001 NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE"),
];

const HISTORIQUE: &[(&str, Option<&str>, &str)] = &[
    ("ADCO", None, "031328187235"),
    ("OPTARIF", None, "HC.."),
    ("ISOUSC", None, "30"),
    ("HCHC", None, "006906827"),
    ("HCHP", None, "007617931"),
    ("PTEC", None, "HP.."),
    ("IINST", None, "003"),
    ("IMAX", None, "044"),
    ("PAPP", None, "00680"),
    ("HHPHC", None, "A"),
    ("MOTDETAT", None, "000000"),
];

/// About `target` bytes of frames; every `corrupt_every`-th group gets a flipped byte.
fn stream(
    rule: ChecksumRule,
    groups: &[(&str, Option<&str>, &str)],
    target: usize,
    corrupt_every: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(target + 2048);
    let mut n = 0usize;
    while out.len() < target {
        start_frame(&mut out);
        for (label, h, v) in groups {
            let at = out.len();
            push_group_with_rule(&mut out, rule, label, *h, v);
            n += 1;
            if corrupt_every > 0 && n.is_multiple_of(corrupt_every) {
                out[at + 2] ^= 0x01;
            }
        }
        end_frame(&mut out);
    }
    out
}

/// Decodes in 64 KiB blocks, as `capture::FrameReader` reads, and counts verified groups.
fn decode_all(bytes: &[u8]) -> u64 {
    let mut d = Decoder::new(Config::default());
    let mut groups = 0u64;
    for block in bytes.chunks(64 * 1024) {
        let mut rest = block;
        while !rest.is_empty() {
            let (f, n) = d.decode(rest);
            if let Some(f) = f {
                groups += f.groups().len() as u64;
            }
            rest = &rest[n..];
        }
    }
    groups
}

fn bench(c: &mut Criterion) {
    const SIZE: usize = 32 << 20;
    let mut g = c.benchmark_group("decode");
    g.sample_size(20);
    for (name, rule, groups, qualities) in [
        (
            "standard",
            ChecksumRule::Standard,
            STANDARD,
            &[("clean", 0), ("5pct-corrupt", 20)][..],
        ),
        (
            "historique",
            ChecksumRule::HistoriqueMode1,
            HISTORIQUE,
            &[("clean", 0), ("5pct-corrupt", 20)][..],
        ),
        (
            "historique-mode2",
            ChecksumRule::HistoriqueMode2,
            HISTORIQUE,
            &[("clean", 0)][..],
        ),
    ] {
        for &(quality, every) in qualities {
            let bytes = stream(rule, groups, SIZE, every);
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_with_input(BenchmarkId::new(name, quality), &bytes, |b, bytes| {
                b.iter(|| decode_all(bytes))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
