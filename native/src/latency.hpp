// Latency statistics with the field names of `l2m-edge bench` (latency_ms.{min,mean,std,p50,p90,p95,p99,max}).
#pragma once

#include <vector>

namespace l2m {

struct LatencyStats {
    double min = 0, mean = 0, std = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
};

// Percentiles interpolate linearly between order statistics and std is the population std,
// as numpy.percentile / numpy.std compute them in the Python benchmark.
LatencyStats latency_stats(std::vector<double> milliseconds);
double percentile(const std::vector<double>& sorted, double q);

}  // namespace l2m
