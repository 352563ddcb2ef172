package cli

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/energy"
)

func (m *Main) energyPowercapCommand() *cobra.Command {
	var gpu, trace, workload, slowdown string
	var eta float64
	cmd := &cobra.Command{
		Use:   "powercap",
		Short: "Advise a GPU power limit from measured or traced energy-vs-time per limit",
		Long: `powercap picks, for each training workload, the GPU power limit that
minimises Zeus's cost η·E + (1−η)·P_max·T per epoch (You et al., NSDI 2023):
η = 1 minimises energy, η = 0 time. --max-slowdown rules out limits whose
epoch is more than that much slower than the fastest.

The measurements come from a CSV with the columns dataset, network,
batch_size, optimizer, power_limit, time_per_epoch, average_power (--trace),
for example from sweeping nvidia-smi -pl over a few epochs; or from the Zeus
NSDI'23 traces embedded for the A40, P100, RTX6000 and V100 (--gpu). Every
figure is from those measurements: it is an estimate for your runs.`,
		Example: `  joule energy powercap --gpu v100 --workload imagenet/resnet50
  joule energy powercap --gpu a40 --eta 1 --max-slowdown 10% -o json
  joule energy powercap --trace my-sweep.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rows []energy.PowerTraceRow
			var err error
			switch {
			case (gpu == "") == (trace == ""):
				return joule.Errorf(joule.EINVALID, "give --gpu (an embedded Zeus trace: %s) or --trace FILE", strings.Join(energy.ZeusGPUs, ", "))
			case gpu != "":
				rows, err = energy.ZeusTrace(gpu)
			default:
				f, ferr := os.Open(trace)
				if ferr != nil {
					return joule.Errorf(joule.EINVALID, "--trace: %v", ferr)
				}
				defer f.Close()
				rows, err = energy.ParsePowerTrace(f, trace)
			}
			if err != nil {
				return err
			}
			bound := -1.0
			if slowdown != "" {
				v, perr := strconv.ParseFloat(strings.TrimSuffix(slowdown, "%"), 64)
				if perr != nil || v < 0 {
					return joule.Errorf(joule.EINVALID, "--max-slowdown: %q is not a percentage such as 10%%", slowdown)
				}
				bound = v / 100
			}
			type row struct {
				Workload  string `json:"workload"`
				BatchSize int    `json:"batch_size"`
				Optimizer string `json:"optimizer"`
				energy.PowerCapAdvice
			}
			groups := map[string][]energy.PowerLimitPoint{}
			var keys []string
			for _, r := range rows {
				w := r.Dataset + "/" + r.Network
				if workload != "" && w != workload {
					continue
				}
				k := w + "\x00" + strconv.Itoa(r.BatchSize) + "\x00" + r.Optimizer
				if _, ok := groups[k]; !ok {
					keys = append(keys, k)
				}
				groups[k] = append(groups[k], r.PowerLimitPoint)
			}
			if len(keys) == 0 {
				return joule.Errorf(joule.EINVALID, "--workload: no measurements for %q", workload)
			}
			slices.Sort(keys)
			var out []row
			for _, k := range keys {
				a, err := energy.AdvisePowerLimit(groups[k], eta, bound)
				if err != nil {
					return err
				}
				p := strings.Split(k, "\x00")
				bs, _ := strconv.Atoi(p[1])
				out = append(out, row{Workload: p[0], BatchSize: bs, Optimizer: p[2], PowerCapAdvice: a})
			}
			slices.SortStableFunc(out, func(a, b row) int {
				return cmp.Or(strings.Compare(a.Workload, b.Workload), cmp.Compare(a.BatchSize, b.BatchSize), strings.Compare(a.Optimizer, b.Optimizer))
			})
			return m.print(out, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "WORKLOAD\tBATCH\tOPTIMIZER\tLIMIT\tOF\tENERGY SAVED\tSLOWER")
				for _, r := range out {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f W\t%.0f W\t%.1f%%\t%.1f%%\n", r.Workload, r.BatchSize, r.Optimizer, r.LimitW, r.MaxLimitW, r.EnergySavedPct, r.SlowdownPct)
				}
				fmt.Fprintf(tw, "\nMethod: %s\n", out[0].Method)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&gpu, "gpu", "", "use the embedded Zeus NSDI'23 trace of this GPU: "+strings.Join(energy.ZeusGPUs, ", "))
	f.StringVar(&trace, "trace", "", "your own measurements (CSV: dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power)")
	f.StringVar(&workload, "workload", "", "only this DATASET/NETWORK, e.g. imagenet/resnet50")
	f.Float64Var(&eta, "eta", 0.5, "weight of energy against time, 0 (time only) to 1 (energy only)")
	f.StringVar(&slowdown, "max-slowdown", "", "rule out limits more than this much slower than the fastest, e.g. 10%")
	return cmd
}
