import sys, json
for l in open(sys.argv[1]):
    try: d = json.loads(l)
    except Exception: continue
    print(f"{d['variant']:28s} f {d['factor']:7.3f} far {d['ref_far']:5.1f} fA {d['factor_A']:6.2f} fB {d['factor_B']:6.2f} B@A {d['far_B_at_A']:5.1f} A@B {d['far_A_at_B']:5.1f} | s2 {d['step2']:5.1f} s4 {d['step4']:5.1f} r6 {d['ramp6']:5.1f} p2 {d['pstep2']:5.1f} p4 {d['pstep4']:5.1f} mean {d['mean_fault']:5.1f} | pair3 {d.get('pair3', float('nan')):5.1f}")
