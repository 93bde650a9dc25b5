#include "latency.hpp"

#include <algorithm>
#include <cmath>

namespace l2m {

double percentile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0.0;
    const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<size_t>(std::floor(rank));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

LatencyStats latency_stats(std::vector<double> ms) {
    LatencyStats stats;
    if (ms.empty()) return stats;
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (double v : ms) sum += v;
    stats.mean = sum / static_cast<double>(ms.size());
    double squares = 0;
    for (double v : ms) squares += (v - stats.mean) * (v - stats.mean);
    stats.std = std::sqrt(squares / static_cast<double>(ms.size()));
    stats.min = ms.front();
    stats.max = ms.back();
    stats.p50 = percentile(ms, 50);
    stats.p90 = percentile(ms, 90);
    stats.p95 = percentile(ms, 95);
    stats.p99 = percentile(ms, 99);
    return stats;
}

}  // namespace l2m
