#!/usr/bin/env bash
# Encode and validate benchmark of the contract module against Python's json and orjson,
# measured in the same run on the identical structure. Prints a table, then one final
# line of key=value pairs.
#
#   bash Benchmarks/contract.sh [POINTS] [POLYGONS]      (defaults 1000000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
points=${1:-1000000}
polygons=${2:-100000}

python3 -c 'import orjson' 2>/dev/null || python3 -m pip install -q orjson
swift build -c release --product ContractBenchmark >/dev/null
bench=$(swift build -c release --show-bin-path)/ContractBenchmark

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
row() {  # name line
    printf '%-34s %9.3f s %8.1f MB out %8.1f MiB peak RSS\n' "$1" "$(field seconds "$2")" \
        "$(awk -v b="$(field bytes "$2")" 'BEGIN{print b/1e6}')" "$(field peak_rss_mib "$2")"
}

sw_ep=$("$bench" encode-points "$points")
sw_vp=$("$bench" validate-points "$points")
sw_pv=$("$bench" parse-validate-points "$points")
py_jp=$(python3 Benchmarks/contract_python.py json points "$points")
py_op=$(python3 Benchmarks/contract_python.py orjson points "$points")
sw_eg=$("$bench" encode-polygons "$polygons")
sw_vg=$("$bench" validate-polygons "$polygons")
py_jg=$(python3 Benchmarks/contract_python.py json polygons "$polygons")
py_og=$(python3 Benchmarks/contract_python.py orjson polygons "$polygons")

echo "WholeSlideDifferential with $points points"
row "mhs encode" "$sw_ep"
row "mhs validate (typed)" "$sw_vp"
row "mhs parse+validate (emulator path)" "$sw_pv"
row "python json.dumps" "$py_jp"
row "python orjson.dumps" "$py_op"
echo "Basic report with $polygons polygon features"
row "mhs encode" "$sw_eg"
row "mhs validate (typed)" "$sw_vg"
row "python json.dumps" "$py_jg"
row "python orjson.dumps" "$py_og"

# Real model output, generated once (seeded) and read by both sides: full-precision scores,
# integer positions; polygons of 4-24 vertices on whole pixels and at two decimals.
bodies=.build/contract-bodies
mkdir -p $bodies
[ -f $bodies/model-points-$points.json ] || python3 Benchmarks/contract_python.py make model-points "$points" $bodies/model-points-$points.json
[ -f $bodies/model-polygons-$polygons.json ] || python3 Benchmarks/contract_python.py make model-polygons "$polygons" $bodies/model-polygons-$polygons.json
for kind in points polygons; do
    n=$points; [ $kind = polygons ] && n=$polygons
    file=$bodies/model-$kind-$n.json
    sw_e=$("$bench" encode-file $file)
    sw_p=$("$bench" parse-validate-file $file)
    py_j=$(python3 Benchmarks/contract_python.py json file $file)
    py_o=$(python3 Benchmarks/contract_python.py orjson file $file)
    py_l=$(python3 Benchmarks/contract_python.py orjson-loads file $file)
    echo "Model output: $n $kind (full-precision scores; read from $file by both sides)"
    row "mhs encode" "$sw_e"
    row "mhs parse+validate (emulator path)" "$sw_p"
    row "python json.dumps" "$py_j"
    row "python orjson.dumps" "$py_o"
    row "python orjson.loads" "$py_l"
    printf -v "model_${kind}_encode_vs_orjson" '%s' "$(awk -v a="$(field seconds "$sw_e")" -v b="$(field seconds "$py_o")" 'BEGIN{printf "%.2f", a/b}')"
    printf -v "model_${kind}_parse_validate_vs_loads" '%s' "$(awk -v a="$(field seconds "$sw_p")" -v b="$(field seconds "$py_l")" 'BEGIN{printf "%.2f", a/b}')"
    printf -v "model_${kind}_peak_rss_vs_output" '%s' "$(awk -v r="$(field peak_rss_mib "$sw_e")" -v b="$(field bytes "$sw_e")" 'BEGIN{printf "%.2f", r*1048576/b}')"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
s() { field seconds "$1"; }
enc_vs_orjson_points=$(ratio "$(s "$sw_ep")" "$(s "$py_op")")
enc_vs_json_points=$(ratio "$(s "$sw_ep")" "$(s "$py_jp")")
val_vs_enc_points=$(ratio "$(s "$sw_vp")" "$(s "$sw_ep")")
rss_vs_out_points=$(awk -v r="$(field peak_rss_mib "$sw_ep")" -v b="$(field bytes "$sw_ep")" 'BEGIN{printf "%.2f", r*1048576/b}')
enc_vs_orjson_polygons=$(ratio "$(s "$sw_eg")" "$(s "$py_og")")
val_vs_enc_polygons=$(ratio "$(s "$sw_vg")" "$(s "$sw_eg")")
extra() { awk -v r="$(field peak_rss_mib "$1")" -v m="$(field model_rss_mib "$1")" -v b="$(field bytes "$1")" 'BEGIN{printf "%.2f", (r-m)*1048576/b}'; }
enc_rss_points=$(extra "$sw_ep")
enc_rss_polygons=$(extra "$sw_eg")
rss_vs_out_polygons=$(awk -v r="$(field peak_rss_mib "$sw_eg")" -v b="$(field bytes "$sw_eg")" 'BEGIN{printf "%.2f", r*1048576/b}')
echo "goals: encode <= 1.5x orjson, validate <= 0.5x encode, peak RSS <= 3x output"
echo "(peak RSS includes the model itself; encoder_rss_vs_output is (peak - model) / output)"
echo "points=$points encode_vs_orjson=$enc_vs_orjson_points encode_vs_json=$enc_vs_json_points validate_vs_encode=$val_vs_enc_points peak_rss_vs_output=$rss_vs_out_points encoder_rss_vs_output=$enc_rss_points polygons=$polygons polygons_encode_vs_orjson=$enc_vs_orjson_polygons polygons_validate_vs_encode=$val_vs_enc_polygons polygons_peak_rss_vs_output=$rss_vs_out_polygons polygons_encoder_rss_vs_output=$enc_rss_polygons model_points_encode_vs_orjson=$model_points_encode_vs_orjson model_points_parse_validate_vs_loads=$model_points_parse_validate_vs_loads model_points_peak_rss_vs_output=$model_points_peak_rss_vs_output model_polygons_encode_vs_orjson=$model_polygons_encode_vs_orjson model_polygons_parse_validate_vs_loads=$model_polygons_parse_validate_vs_loads model_polygons_peak_rss_vs_output=$model_polygons_peak_rss_vs_output"
