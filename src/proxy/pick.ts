/**
 * Weighted random choice over a prebuilt cumulative-weight array. No allocation per pick.
 * @module
 */

/**
 * Builds the cumulative sums of `weights` (entries ≤ 0 must already be left out by the caller).
 * `cumulative[i]` is the sum of weights 0..i; the last entry is the total.
 */
export function cumulativeWeights(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    sum += weights[i]!;
    out[i] = sum;
  }
  return out;
}

/**
 * The index whose weight band holds `random` (0 ≤ random < 1), or -1 for an empty array.
 * Binary search: O(log n) over the cumulative sums.
 */
export function pickWeighted(cumulative: Float64Array, random: number): number {
  const n = cumulative.length;
  if (n === 0) return -1;
  const target = random * cumulative[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (target < cumulative[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
