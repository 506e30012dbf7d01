import json, os, glob
rows = []
for cand in ["lgbm", "cnn", "ens"]:
    for s in ["FD001", "FD003"]:
        p = f"results/{cand}_{s}.json"
        if not os.path.exists(p):
            rows.append(f"| {cand} | {s} | not run (time) | | | |"); continue
        j = json.load(open(p)); m = j["mean_std"]
        per = ", ".join(f"{r['rmse']:.2f}" for r in j["runs"])
        rows.append(f"| {cand} | {s} | {m['rmse'][0]:.2f} ± {m['rmse'][1]:.2f} ({per}) | {m['score'][0]:.0f} ± {m['score'][1]:.0f} | {m['train_s'][0]:.0f} ± {m['train_s'][1]:.0f} | {j['seeds']} |")
print("| candidate | subset | RMSE mean ± sd (per seed) | PHM08 score mean ± sd | train_s mean ± sd | seeds |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
