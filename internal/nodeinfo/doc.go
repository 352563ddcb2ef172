// Package nodeinfo describes the machine joule runs on: what it has, how busy
// it is, and that it is alive.
//
// [Detect] builds a [joule.Node] inventory from the Linux pseudo-filesystems
// under [Config.Root]:
//
//   - hostname: os.Hostname, or proc/sys/kernel/hostname when Root is not "/";
//   - kernel release: proc/sys/kernel/osrelease;
//   - CPU model and logical CPU count: proc/cpuinfo ("model name", else
//     "Hardware" or "cpu model"; one "processor" line per logical CPU);
//   - memory: MemTotal in proc/meminfo;
//   - OS and architecture: the runtime;
//   - GPUs: the [GPUSource] in [Config.GPUs] (NVML in production, wired up by
//     cmd/joule);
//   - power meters: RAPL zones under sys/class/powercap (intel-rapl:N and
//     their intel-rapl:N:M subzones, or amd-rapl), hwmon power sensors under
//     sys/class/hwmon (power*_input or power*_average), and one NVML meter per
//     GPU.
//
// A missing file gives an empty or fallback value, so Detect works on any
// Unix; a file that exists but does not parse is an error that names the file
// and line.
//
// [Sampler] reads utilisation: CPU busy fraction from proc/stat, memory in use
// from proc/meminfo, load from proc/loadavg and GPU utilisation from the
// GPUSource. [Reporter] is the heartbeat service that sends those samples to
// the store and marks nodes that stopped reporting as lost.
//
// Tests point Root at fixture trees in testdata/ and use a fake GPUSource.
package nodeinfo
