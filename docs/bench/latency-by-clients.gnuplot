set terminal pngcairo size 900,540 font "DejaVu Sans,11"
set grid
set key top left
set output "latency-by-clients.png"
set title "Latency against clients (through the balancer; median of runs)"
set logscale x
set logscale y
set xlabel "clients"
set ylabel "latency, ms"
plot "latency-by-clients.dat" using 1:2 with linespoints title "p50", "" using 1:3 with linespoints title "p99"