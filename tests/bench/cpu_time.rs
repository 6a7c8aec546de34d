//! CPU time read from `/proc` (Linux), shared by the explorer bench and
//! `examples/region_costs.rs`: what the process and llvmpipe's rasteriser
//! threads spent, in ms. Steadier than wall time on a shared machine, and
//! independent of how fast the harness copies the read-back image (egui_kittest
//! copies it byte by byte, and that copy's speed moves with code layout
//! between builds: the empty window's frame went from about 4.5 to 6.5 ms
//! with changes to nothing it runs).

/// User plus system time in a `/proc/…/stat` line, in ms: the fields after
/// the command name's closing parenthesis start with the 3rd (the state, a
/// letter); utime and stime are the 14th and 15th, in clock ticks of 10 ms.
fn stat_cpu_ms(stat: &str) -> Option<f64> {
    let (_, after) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    Some((field(14)? + field(15)?) * 10.0)
}

/// CPU time this process has used (all threads: llvmpipe's rasterisers too),
/// in ms; steadier than wall time on a shared machine.
pub fn process_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| stat_cpu_ms(&stat))
        .unwrap_or(0.0)
}

/// CPU time llvmpipe's rasteriser threads have used, in ms (0 on a GPU).
pub fn rasteriser_cpu_ms() -> f64 {
    threads_cpu_ms()
        .into_iter()
        .filter(|(_, name, _)| name.starts_with("llvmpipe"))
        .map(|(_, _, ms)| ms)
        .sum()
}

/// CPU time of every thread of this process, in ms, keyed by thread id, with
/// its name (unnamed threads carry the process's name).
pub fn threads_cpu_ms() -> Vec<(u32, String, f64)> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse::<u32>().ok()?;
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            Some((tid, comm.trim().to_owned(), stat_cpu_ms(&stat)?))
        })
        .collect()
}
