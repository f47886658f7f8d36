package loadtest

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scraper reads a few values from the server's Prometheus endpoint. Only
// unlabelled samples are kept, except the dropped-packets counter, which
// is summed over its reasons.
type scraper struct {
	url    string
	client *http.Client
}

var errNoMetrics = errors.New("no metrics URL")

// newScraper reads base's /metrics; with an empty base every sample
// fails, and the report carries no server figures.
func newScraper(base string) *scraper {
	s := &scraper{client: &http.Client{Timeout: 5 * time.Second}}
	if base != "" {
		s.url = strings.TrimRight(base, "/") + "/metrics"
	}
	return s
}

var wanted = map[string]bool{
	"process_cpu_seconds_total":          true,
	"process_resident_memory_bytes":      true,
	"parley_rtp_packets_forwarded_total": true,
	"parley_rtp_packets_dropped_total":   true,
	"parley_nack_total":                  true,
	"parley_rtp_retransmits_total":       true,
	"parley_pli_total":                   true,
}

func (s *scraper) sample() (map[string]float64, error) {
	if s.url == "" {
		return nil, errNoMetrics
	}
	resp, err := s.client.Get(s.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		base, _, _ := strings.Cut(name, "{")
		if !wanted[base] {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		out[base] += v
	}
	return out, sc.Err()
}
